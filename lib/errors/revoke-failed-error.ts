import { SamsaraError, type SamsaraErrorOptions } from './samsara-error.js';

/**
 * Samsara's revoke endpoint failed. The grant stays stored (it still works): revoke again.
 *
 * @example
 * ```ts
 * try { await tokens.revoke(orgId); } catch (err) { if (err instanceof RevokeFailedError) retryLater(orgId); }
 * ```
 */
export class RevokeFailedError extends SamsaraError {
  constructor(message: string, options: SamsaraErrorOptions = {}) {
    super(message, { ...options, code: 'SAMSARA_REVOKE_FAILED', status: 502 });
  }
}
