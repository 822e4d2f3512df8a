import { ConfigurationError, WebhookVerificationError } from '../errors/index.js';
import { numberOption } from '../number-option.js';
import type { SamsaraWebhookEvent } from './event-types.js';
import { checkFreshness, keysOf, signatureMatches, signedHeaders, type WebhookHeaders } from './signature.js';

/** Samsara documents no replay window; five minutes is the common choice (Stripe's, Slack's). */
export const DEFAULT_TOLERANCE = 300;

/**
 * Options of {@link verifySamsaraWebhook}.
 *
 * @example
 * ```ts
 * const options: VerifySamsaraWebhookOptions = { body: rawBody, headers: req.headers, secret: [newSecret, oldSecret] };
 * ```
 */
export interface VerifySamsaraWebhookOptions {
  /** The raw body, exactly as received: a `Buffer` (or any `Uint8Array`), or a string read as UTF-8. */
  body: Uint8Array | string;
  /** The delivery's headers (`req.headers`, or a Fetch API `Headers`). */
  headers: WebhookHeaders;
  /**
   * The webhook's `secretKey` (Base64), or several: a delivery signed with any of them is
   * accepted, so a rotation can keep the old secret beside the new one for a while.
   */
  secret: string | readonly string[];
  /** The replay window, in seconds either side of `now`. Default 300. */
  tolerance?: number;
  /** The current time in ms since the epoch, as `Date.now()` gives it. Default `Date.now()`. */
  now?: number;
}

/**
 * Verifies a Samsara webhook delivery and returns its event. It checks the signature
 * (`X-Samsara-Signature: v1=<hex>`, HMAC-SHA256 over `v1:<X-Samsara-Timestamp>:<raw body>` keyed
 * with the secret Base64-decoded) over the raw bytes in constant time, then that it was signed
 * within the replay window, then that the body is a webhooks 2.0 event.
 *
 * @param options - the raw body, the headers, the secret(s), and the window.
 * @returns the event, typed by its `eventType`.
 * @throws {@link errors!WebhookVerificationError} with a stable `code` for each refusal:
 *   `SAMSARA_WEBHOOK_MISSING_HEADER`, `SAMSARA_WEBHOOK_BAD_HEADER`, `SAMSARA_WEBHOOK_MISMATCH`,
 *   `SAMSARA_WEBHOOK_STALE`, `SAMSARA_WEBHOOK_BAD_PAYLOAD`, `SAMSARA_WEBHOOK_BAD_SECRET` (a
 *   secret that is not Base64), `SAMSARA_WEBHOOK_BODY_CONSUMED` (a body that is no longer raw).
 * @throws `ConfigurationError` for a `tolerance` or `now` that is not a finite number.
 * @see https://developers.samsara.com/docs/webhooks#webhook-signatures
 *
 * @example
 * ```ts
 * app.post('/samsara/webhooks', express.raw({ type: 'application/json' }), (req, res) => {
 *   const event = verifySamsaraWebhook({ body: req.body, headers: req.headers, secret: process.env.SAMSARA_WEBHOOK_SECRET! });
 *   queue.push(event);
 *   res.sendStatus(204);
 * });
 * ```
 */
export function verifySamsaraWebhook(options: VerifySamsaraWebhookOptions): SamsaraWebhookEvent {
  const tolerance = numberOption('verifySamsaraWebhook', 'tolerance', options.tolerance, DEFAULT_TOLERANCE, { min: 0 });
  const now = options.now ?? Date.now();
  if (!Number.isFinite(now)) {
    throw new ConfigurationError(`verifySamsaraWebhook option now must be a time in ms, not ${String(now)}.`);
  }
  const keys = keysOf(options.secret);
  const signed = signedHeaders(options.headers);
  const body = rawBytesOf(options.body);
  if (!signatureMatches(keys, signed, body)) throw mismatch();
  checkFreshness(signed, now, tolerance);
  return eventOf(parseDelivery(body));
}

/** The body as bytes; a parsed body (an object) is refused, since its raw bytes are gone. */
export function rawBytesOf(body: unknown): Uint8Array {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return body;
  throw new WebhookVerificationError(
    'The webhook body is not the raw request body: it was already parsed (express.json() or another body parser ran first), and the signature covers the raw bytes. Pass the body as a Buffer or string exactly as received.',
    { code: 'SAMSARA_WEBHOOK_BODY_CONSUMED' },
  );
}

/** The refusal of a signature that no secret given produced. */
export function mismatch(): WebhookVerificationError {
  return new WebhookVerificationError(
    "The delivery's signature matches none of the webhook's secrets: it was not signed by Samsara with them, or its body was changed on the way.",
    { code: 'SAMSARA_WEBHOOK_MISMATCH' },
  );
}

/** The body's JSON value; `SAMSARA_WEBHOOK_BAD_PAYLOAD` when it is not JSON. */
export function parseDelivery(body: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as unknown;
  } catch (err) {
    throw new WebhookVerificationError('The delivery is not JSON.', {
      code: 'SAMSARA_WEBHOOK_BAD_PAYLOAD',
      cause: err,
    });
  }
}

// The envelope's fields and what each must be. Samsara's ids are ids, not essays: the bound keeps
// a deduplication key small whatever a body holds.
const ENVELOPE: ReadonlyArray<[keyof SamsaraWebhookEvent, string, (value: unknown) => boolean]> = [
  ['eventId', 'a string of 1 to 256 characters', (v) => typeof v === 'string' && v.length > 0 && v.length <= 256],
  ['eventType', 'a non-empty string', (v) => typeof v === 'string' && v.length > 0],
  ['eventTime', 'a string', (v) => typeof v === 'string'],
  ['orgId', 'a number', (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0],
  ['webhookId', 'a string', (v) => typeof v === 'string'],
  ['data', 'an object', (v) => typeof v === 'object' && v !== null && !Array.isArray(v)],
];

/** A webhooks 2.0 event, or `SAMSARA_WEBHOOK_BAD_PAYLOAD` naming the first field that is not. */
export function eventOf(value: unknown): SamsaraWebhookEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WebhookVerificationError('The delivery is not a JSON object.', { code: 'SAMSARA_WEBHOOK_BAD_PAYLOAD' });
  }
  const fields = value as Record<string, unknown>;
  for (const [name, what, valid] of ENVELOPE) {
    if (!valid(fields[name])) {
      throw new WebhookVerificationError(
        `The delivery is not a webhooks 2.0 event (eventId, eventTime, eventType, orgId, webhookId, data): ${name} is not ${what}.`,
        { code: 'SAMSARA_WEBHOOK_BAD_PAYLOAD' },
      );
    }
  }
  return value as SamsaraWebhookEvent;
}
