import { SamsaraError, type SamsaraErrorOptions } from './samsara-error.js';

/**
 * A sealed value could not be opened: sealed under a key id the keyring lacks, or tampered with.
 *
 * @example
 * ```ts
 * if (err instanceof SealError) console.error('add the old key back to the keyring:', err.message);
 * ```
 */
export class SealError extends SamsaraError {
  constructor(message: string, options: SamsaraErrorOptions = {}) {
    super(message, { ...options, code: 'SAMSARA_SEAL', status: 500 });
  }
}
