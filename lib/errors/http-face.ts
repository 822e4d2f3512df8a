import { ReauthorizationRequiredError } from './reauthorization-required-error.js';
import { RetryableError } from './retryable-error.js';
import type { SamsaraError } from './samsara-error.js';

// An error's HTTP face beside its `status`, in one place for the three that answer HTTP: the
// Express error handler, the mounted app's failure pages and the fetch handed to the SDK.

/** The challenge of a 401 for a grant that is gone (RFC 6750 §3): sign in again. */
export const REAUTHORIZE_CHALLENGE = 'Bearer realm="samsara", error="invalid_token"';

/**
 * A wait as `Retry-After` says it: whole seconds, rounded up, at least 1, so that a client reading
 * it with `parseInt` (the official SDK does) never comes back early.
 */
export function retryAfterSeconds(seconds: number): number {
  return Math.max(1, Math.ceil(seconds));
}

/** The headers `err` is answered with: `Retry-After` when it can be retried, the challenge on a 401 to sign in again. */
export function headersOf(err: SamsaraError): Record<string, string> {
  const headers: Record<string, string> = {};
  if (err instanceof RetryableError) headers['Retry-After'] = String(retryAfterSeconds(err.retryAfter));
  if (err instanceof ReauthorizationRequiredError) headers['WWW-Authenticate'] = REAUTHORIZE_CHALLENGE;
  return headers;
}
