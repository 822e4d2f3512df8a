import { RetryableError } from './retryable-error.js';
import type { SamsaraErrorOptions } from './samsara-error.js';

/**
 * Another process holds the refresh lock and did not finish within the wait deadline, or the token
 * endpoint kept failing while the old access token had already expired. HTTP 503 with
 * `Retry-After: retryAfter` (default 1 s).
 *
 * @example
 * ```ts
 * if (err instanceof RefreshUnavailableError) log.warn({ code: err.code }, err.message);
 * ```
 */
export class RefreshUnavailableError extends RetryableError {
  constructor(message: string, options: SamsaraErrorOptions & { retryAfter?: number } = {}) {
    super(message, {
      cause: options.cause,
      code: 'SAMSARA_REFRESH_TIMEOUT',
      status: 503,
      retryAfter: options.retryAfter ?? 1,
    });
  }
}
