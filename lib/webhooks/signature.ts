import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { WebhookVerificationError } from '../errors/index.js';

// Samsara's webhook signature, as its official .NET SDK's fixed helper and its backend's golden
// vector have it: `X-Samsara-Signature: v1=<hex HMAC-SHA256>` over `v1:<X-Samsara-Timestamp>:<raw
// body>`, keyed with the webhook's `secretKey` Base64-decoded. Nothing here ever puts a secret, a
// signature or a body in a message.

/**
 * A delivery's headers: as Node gives them (`req.headers`, lower-case names), a plain object of
 * your own (names in any case), or a Fetch API `Headers`.
 */
export type WebhookHeaders = IncomingHttpHeaders | Headers;

/** The signature headers of a delivery, checked for their form. */
export interface SignedHeaders {
  /** `X-Samsara-Timestamp` as sent: the signed string holds it verbatim. */
  timestamp: string;
  /** The same, in seconds. */
  seconds: number;
  /** The 32 bytes `X-Samsara-Signature` carries. */
  signature: Buffer;
}

const SIGNATURE = 'x-samsara-signature';
const TIMESTAMP = 'x-samsara-timestamp';
const SIGNATURE_FORM = /^v1=([0-9a-fA-F]{64})$/;
// Whole seconds; 15 digits is past any date a clock will read, and keeps Number() exact.
const TIMESTAMP_FORM = /^\d{1,15}$/;
// Standard Base64 with its padding, as `Convert.FromBase64String` (the .NET helper) reads it: Node's
// own decoder skips characters it does not know, which would turn a mistyped secret into a wrong key.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Both signature headers, checked for form; `WebhookVerificationError` names the one at fault. */
export function signedHeaders(headers: WebhookHeaders): SignedHeaders {
  const timestamp = header(headers, TIMESTAMP);
  const signature = header(headers, SIGNATURE);
  const missing = [signature === undefined && 'X-Samsara-Signature', timestamp === undefined && 'X-Samsara-Timestamp'];
  const absent = missing.filter(Boolean).join(' and ');
  if (absent) {
    throw new WebhookVerificationError(
      `The delivery has no ${absent} header: it was not signed by Samsara, or a proxy dropped the header.`,
      { code: 'SAMSARA_WEBHOOK_MISSING_HEADER' },
    );
  }
  const hex = typeof signature === 'string' ? SIGNATURE_FORM.exec(signature)?.[1] : undefined;
  if (hex === undefined) {
    throw new WebhookVerificationError('X-Samsara-Signature is not one value of the form v1=<64 hexadecimal digits>.', {
      code: 'SAMSARA_WEBHOOK_BAD_HEADER',
    });
  }
  if (typeof timestamp !== 'string' || !TIMESTAMP_FORM.test(timestamp)) {
    throw new WebhookVerificationError('X-Samsara-Timestamp is not one value in whole seconds since the epoch.', {
      code: 'SAMSARA_WEBHOOK_BAD_HEADER',
    });
  }
  return { timestamp, seconds: Number(timestamp), signature: Buffer.from(hex, 'hex') };
}

/**
 * The HMAC keys of the secrets given, each decoded from Base64; `WebhookVerificationError`
 * (`SAMSARA_WEBHOOK_BAD_SECRET`) on the first that is not Base64, naming it by position only.
 */
export function keysOf(secret: string | readonly string[]): Buffer[] {
  const secrets: readonly unknown[] = typeof secret === 'string' ? [secret] : Array.isArray(secret) ? secret : [];
  if (secrets.length === 0) {
    throw new WebhookVerificationError(
      "No webhook secret was given: pass the webhook's secretKey (or several, while rotating).",
      { code: 'SAMSARA_WEBHOOK_BAD_SECRET' },
    );
  }
  return secrets.map((each, index) => {
    if (typeof each === 'string' && each !== '' && BASE64.test(each)) return Buffer.from(each, 'base64');
    const which = secrets.length > 1 ? ` (number ${index + 1} of ${secrets.length})` : '';
    const whitespace = typeof each === 'string' && each.trim() !== each ? ': it has whitespace around it' : '';
    throw new WebhookVerificationError(
      `The webhook secret${which} is not valid Base64${whitespace}. Samsara's secretKey (in the answer of POST /webhooks, or on the dashboard) is Base64, and its decoded bytes are the HMAC key; the example secret in Samsara's documentation is not valid Base64, so it can verify nothing.`,
      { code: 'SAMSARA_WEBHOOK_BAD_SECRET' },
    );
  });
}

/**
 * Whether `signature` is the HMAC of the delivery under one of `keys`, compared in constant time.
 * Every key is tried, so the time taken tells how many secrets there are, never which one matched.
 */
export function signatureMatches(keys: readonly Buffer[], signed: SignedHeaders, body: Uint8Array): boolean {
  let matched = false;
  for (const key of keys) {
    const expected = createHmac('sha256', key).update(`v1:${signed.timestamp}:`).update(body).digest();
    if (timingSafeEqual(expected, signed.signature)) matched = true;
  }
  return matched;
}

/** Refuses a delivery signed more than `tolerance` seconds before or after `now` (ms). */
export function checkFreshness(signed: SignedHeaders, now: number, tolerance: number): void {
  const age = Math.round(now / 1000 - signed.seconds);
  if (Math.abs(age) <= tolerance) return;
  const when = age > 0 ? `${age} s ago` : `${-age} s in the future`;
  throw new WebhookVerificationError(
    `The delivery is genuine but was signed ${when}, outside the replay window of ${tolerance} s: a replay, or a clock that is off (check this server's time).`,
    { code: 'SAMSARA_WEBHOOK_STALE' },
  );
}

/** One header's value: a string, an array (sent more than once), or undefined (absent). */
function header(headers: WebhookHeaders, name: string): string | string[] | undefined {
  if (typeof (headers as Partial<Headers>).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const plain = headers as IncomingHttpHeaders;
  if (Object.hasOwn(plain, name)) return plain[name];
  // A hand-built object may spell the name in any case; Node's own are lower case.
  const key = Object.keys(plain).find((each) => each.toLowerCase() === name);
  return key === undefined ? undefined : plain[key];
}
