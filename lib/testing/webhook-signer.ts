import { createHmac } from 'node:crypto';

// Samsara's webhook signature, from the server's side: what the emulator's deliveries carry, and
// what an app's own tests can send to its receiver. Written from the documented scheme, not from
// the package's verifier.

/**
 * A delivery signed by {@link signSamsaraWebhook}: send `body` with `headers`, as Samsara would.
 *
 * @example
 * ```ts
 * const { body, headers }: SignedSamsaraWebhook = signSamsaraWebhook({ payload, secret });
 * await fetch(url, { method: 'POST', headers, body });
 * ```
 */
export interface SignedSamsaraWebhook {
  /** The payload as JSON (a string payload as it is): the bytes the signature covers. */
  body: string;
  headers: { 'content-type': string; 'x-samsara-signature': string; 'x-samsara-timestamp': string };
}

/**
 * Options of {@link signSamsaraWebhook}.
 *
 * @example
 * ```ts
 * const stale: SignSamsaraWebhookOptions = { payload, secret, timestamp: Math.floor(Date.now() / 1000) - 3600 };
 * ```
 */
export interface SignSamsaraWebhookOptions {
  /** The delivery's payload: an object (sent as JSON) or the exact body text. */
  payload: unknown;
  /** The webhook's `secretKey`, Base64, as Samsara hands it out. */
  secret: string;
  /** `X-Samsara-Timestamp`, whole seconds since the epoch. Default: now. */
  timestamp?: number;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Signs a payload as Samsara signs a webhook delivery: `X-Samsara-Signature: v1=<hex>`, the
 * HMAC-SHA256 of `v1:<timestamp>:<body>` keyed with the secret Base64-decoded, and
 * `X-Samsara-Timestamp`. For an app's own tests of its receiver.
 *
 * @param options - the payload, the webhook's secret, and the time to sign at.
 * @returns the body and the headers to send it with.
 * @throws RangeError for a secret that is not Base64, a timestamp that is not whole seconds, or a
 *   payload JSON cannot carry.
 *
 * @example
 * ```ts
 * import request from 'supertest';
 * import { signSamsaraWebhook } from 'passport-samsara/testing';
 *
 * const payload = { eventId: 'e-1', eventTime: new Date().toISOString(), eventType: 'VehicleCreated', orgId: 1001, webhookId: 'w-1', data: {} };
 * const { body, headers } = signSamsaraWebhook({ payload, secret: webhook.secretKey });
 * await request(app).post('/samsara/webhooks').set(headers).send(body).expect(204);
 * ```
 */
export function signSamsaraWebhook(options: SignSamsaraWebhookOptions): SignedSamsaraWebhook {
  const { payload, secret } = options;
  if (typeof secret !== 'string' || secret === '' || !BASE64.test(secret)) {
    throw new RangeError("The secret is not Base64: pass the webhook's secretKey as Samsara hands it out.");
  }
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new RangeError(`timestamp must be whole seconds since the epoch, not ${String(timestamp)}.`);
  }
  const body = typeof payload === 'string' ? payload : (JSON.stringify(payload) as string | undefined);
  if (body === undefined) throw new RangeError('payload must be a string or a value JSON can carry.');
  const mac = createHmac('sha256', Buffer.from(secret, 'base64')).update(`v1:${timestamp}:${body}`);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-samsara-signature': `v1=${mac.digest('hex')}`,
      'x-samsara-timestamp': String(timestamp),
    },
  };
}
