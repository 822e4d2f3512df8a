import { SamsaraError, type SamsaraErrorOptions } from './samsara-error.js';
import type { WebhookUpkeepErrorCode } from './webhook-error-code.js';

/**
 * Keeping an organization's webhook failed (creating, repairing or deleting it at Samsara):
 *
 * - `SAMSARA_WEBHOOK_SCOPE` (403): the organization's grant lacks the Read Webhooks or Write
 *   Webhooks scope. Add both to the app's scopes in the Samsara dashboard; the organization's
 *   admin must then connect again (scopes change only when an organization re-authorizes). The
 *   grant itself is kept: the sign-in succeeded.
 * - `SAMSARA_WEBHOOK_UPKEEP` (502): Samsara answered something else than success (the message
 *   gives its status and its own message); it is retried by the next `reconcile()`.
 *
 * @example
 * ```ts
 * tokens.addHooks({
 *   onConnect: ({ orgId, webhook }) => {
 *     if (webhook?.status === 'failed' && webhook.code === 'SAMSARA_WEBHOOK_SCOPE') alertAdmin(orgId);
 *   },
 * });
 * ```
 */
export class WebhookUpkeepError extends SamsaraError {
  declare readonly code: WebhookUpkeepErrorCode;

  constructor(message: string, options: SamsaraErrorOptions & { code: WebhookUpkeepErrorCode }) {
    super(message, {
      cause: options.cause,
      code: options.code,
      status: options.code === 'SAMSARA_WEBHOOK_SCOPE' ? 403 : 502,
    });
  }
}
