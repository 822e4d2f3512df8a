import { RetryableError } from './retryable-error.js';
import type { SamsaraErrorOptions } from './samsara-error.js';

/**
 * Samsara kept answering 429 past the wait bound of `req.samsara.fetch`. HTTP 429 with
 * `Retry-After` (Samsara's own, in seconds, possibly fractional).
 *
 * @example
 * ```ts
 * if (err instanceof RateLimitedError) scheduleRetry(err.retryAfter * 1000);
 * ```
 */
export class RateLimitedError extends RetryableError {
  constructor(message: string, options: SamsaraErrorOptions & { retryAfter: number }) {
    super(message, { cause: options.cause, code: 'SAMSARA_RATE_LIMITED', status: 429, retryAfter: options.retryAfter });
  }
}
