/** What stands where a secret was. */
const REDACTED = '[redacted]';

/**
 * `text` with every occurrence of each secret replaced by `[redacted]`: as sent, and as a URL or a
 * form would encode it. For text an upstream wrote (Samsara's `error_description`, undici's
 * message about a header) that may repeat what we sent it; run it before any truncation, or a
 * cut secret would survive as its prefix.
 */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let result = text;
  for (const secret of secrets) {
    if (secret === undefined || secret === '') continue;
    for (const spelling of new Set([
      secret,
      encodeURIComponent(secret),
      new URLSearchParams({ s: secret }).toString().slice(2),
    ])) {
      result = result.split(spelling).join(REDACTED);
    }
  }
  return result;
}
