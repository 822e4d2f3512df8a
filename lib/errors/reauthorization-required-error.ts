import { SamsaraError, type SamsaraErrorOptions } from './samsara-error.js';

/**
 * The organization must sign in again: its grant was revoked, rotated away or never existed here.
 * Its credentials are gone from the store. HTTP 401. The message is the reason, after "The
 * Samsara organization must sign in again:".
 *
 * @example
 * ```ts
 * try { await tokens.accessToken(orgId); }
 * catch (err) { if (err instanceof ReauthorizationRequiredError) res.redirect('/auth/samsara'); }
 * ```
 */
export class ReauthorizationRequiredError extends SamsaraError {
  /** Which organization (token store key) must sign in again. */
  readonly key: string;

  constructor(reason: string, options: SamsaraErrorOptions & { key: string }) {
    super(`The Samsara organization must sign in again: ${reason}.`, {
      cause: options.cause,
      code: 'SAMSARA_REAUTHORIZE',
      status: 401,
    });
    this.key = options.key;
  }
}
