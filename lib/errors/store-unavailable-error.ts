import { RetryableError } from './retryable-error.js';
import type { SamsaraErrorOptions } from './samsara-error.js';

/**
 * The token store (Redis) is unreachable or too slow; nothing was refreshed. HTTP 503 with
 * `Retry-After: retryAfter` (default 1 s).
 *
 * @example
 * ```ts
 * if (err instanceof StoreUnavailableError) log.error({ code: err.code }, 'Redis is down');
 * ```
 */
export class StoreUnavailableError extends RetryableError {
  constructor(message: string, options: SamsaraErrorOptions & { retryAfter?: number } = {}) {
    super(message, {
      cause: options.cause,
      code: 'SAMSARA_STORE_UNAVAILABLE',
      status: 503,
      retryAfter: options.retryAfter ?? 1,
    });
  }
}
