import { SamsaraError, type SamsaraErrorOptions } from './samsara-error.js';

/**
 * Samsara answered something other than what its contract promises: a non-JSON or oversized
 * token response, one without valid tokens or `expires_in`, a `/me` body without an id.
 *
 * @example
 * ```ts
 * if (err instanceof BadResponseError) log.warn({ code: err.code }, err.message);
 * ```
 */
export class BadResponseError extends SamsaraError {
  constructor(message: string, options: SamsaraErrorOptions = {}) {
    super(message, { ...options, code: 'SAMSARA_BAD_RESPONSE', status: 502 });
  }
}
