import { SamsaraError, type SamsaraErrorOptions } from './samsara-error.js';
import type { WebhookErrorCode } from './webhook-error-code.js';

/**
 * Why a webhook delivery was refused, each with the HTTP status the receiver answers:
 *
 * - `SAMSARA_WEBHOOK_MISSING_HEADER` (400): no `X-Samsara-Signature` or `X-Samsara-Timestamp`;
 * - `SAMSARA_WEBHOOK_BAD_HEADER` (400): one of them is not `v1=<64 hex digits>` / whole seconds;
 * - `SAMSARA_WEBHOOK_MISMATCH` (401): the signature is not that of any secret given (a forgery,
 *   a tampered body, a wrong or rotated-out secret, or an organization without a secret);
 * - `SAMSARA_WEBHOOK_STALE` (401): genuine, but signed outside the replay window;
 * - `SAMSARA_WEBHOOK_BAD_PAYLOAD` (400): genuine, but not a webhooks 2.0 event in JSON;
 * - `SAMSARA_WEBHOOK_TOO_LARGE` (413): the body exceeds the receiver's limit;
 * - `SAMSARA_WEBHOOK_BAD_SECRET` (500): a secret given is not Base64 (the app's configuration);
 * - `SAMSARA_WEBHOOK_BODY_CONSUMED` (500): a body parser ran before the receiver, so the raw
 *   bytes the signature covers are gone (the app's configuration).
 *
 * @example
 * ```ts
 * try {
 *   verifySamsaraWebhook({ body, headers, secret });
 * } catch (err) {
 *   if (err instanceof WebhookVerificationError) res.status(err.status).json({ error: err.code });
 * }
 * ```
 */
export class WebhookVerificationError extends SamsaraError {
  declare readonly code: WebhookErrorCode;

  constructor(message: string, options: SamsaraErrorOptions & { code: WebhookErrorCode }) {
    super(message, { cause: options.cause, code: options.code, status: STATUS[options.code] });
  }
}

const STATUS: Record<WebhookErrorCode, number> = {
  SAMSARA_WEBHOOK_MISSING_HEADER: 400,
  SAMSARA_WEBHOOK_BAD_HEADER: 400,
  SAMSARA_WEBHOOK_MISMATCH: 401,
  SAMSARA_WEBHOOK_STALE: 401,
  SAMSARA_WEBHOOK_BAD_PAYLOAD: 400,
  SAMSARA_WEBHOOK_TOO_LARGE: 413,
  SAMSARA_WEBHOOK_BAD_SECRET: 500,
  SAMSARA_WEBHOOK_BODY_CONSUMED: 500,
};
