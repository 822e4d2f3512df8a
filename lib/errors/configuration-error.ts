import { SamsaraError } from './samsara-error.js';

/**
 * The package is misconfigured: a missing client id or secret, an unknown region, an option out
 * of range, a Redis store without a sealing key. Thrown at construction, before any request.
 *
 * @example
 * ```ts
 * try { new SamsaraStrategy(); } catch (err) { if (err instanceof ConfigurationError) console.error(err.message); }
 * ```
 */
export class ConfigurationError extends SamsaraError {
  constructor(message: string) {
    super(message, { code: 'SAMSARA_CONFIG', status: 500 });
  }
}
