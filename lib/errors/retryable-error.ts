import { SamsaraError, type SamsaraErrorOptions, type SamsaraErrorCode } from './samsara-error.js';

/**
 * An error a client may retry after `retryAfter` seconds: the Express error handler answers it
 * with a `Retry-After` header. `StoreUnavailableError`, `RefreshUnavailableError` and
 * `RateLimitedError` are retryable.
 *
 * @example
 * ```ts
 * if (err instanceof RetryableError) res.set('Retry-After', String(Math.ceil(err.retryAfter))).sendStatus(err.status);
 * ```
 */
export class RetryableError extends SamsaraError {
  /** Seconds after which a retry may succeed (may be fractional). */
  readonly retryAfter: number;

  constructor(
    message: string,
    options: SamsaraErrorOptions & { code: SamsaraErrorCode; status: number; retryAfter: number },
  ) {
    super(message, options);
    this.retryAfter = options.retryAfter;
  }
}
