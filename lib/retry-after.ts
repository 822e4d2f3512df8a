/**
 * The wait a `Retry-After` header asks for, in seconds; 1 s when it is absent or unreadable.
 *
 * Samsara sends delta-seconds, often fractional (`0.40235`), so the value is read as a decimal
 * (the official SDK's `parseInt` turns `0.40235` into "no header" and `1.5` into 1 s). An
 * HTTP-date (RFC 9110 §10.2.3) is read too, as the time left until then: a proxy in front of
 * Samsara may send one. A date in the past means no wait (0).
 *
 * @example
 * ```ts
 * parseRetryAfter('0.40235'); // 0.40235
 * parseRetryAfter(null); // 1
 * parseRetryAfter(new Date(Date.now() + 2_000).toUTCString()); // about 2
 * ```
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number {
  if (value === null) return DEFAULT_SECONDS;
  const text = value.trim();
  // Decimal seconds only: parseFloat alone would take `-1`, `1e9` or `2 minutes` at face value.
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text);
  // Date.parse reads nearly anything as a date (`"soon 3"` is the year 2003), so only strings
  // shaped like an HTTP-date go to it: every form of RFC 9110 names the month and has hh:mm:ss.
  const date = HTTP_DATE.test(text) ? Date.parse(text) : NaN;
  return Number.isFinite(date) ? Math.max(0, (date - now) / 1000) : DEFAULT_SECONDS;
}

const HTTP_DATE = /\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\b.*\b\d{2}:\d{2}:\d{2}\b/i;

/** What an absent or unreadable `Retry-After` is taken to mean: a short pause, not none. */
const DEFAULT_SECONDS = 1;
