import type { WebhookErrorCode, WebhookUpkeepErrorCode } from './webhook-error-code.js';

/**
 * The stable codes of {@link SamsaraError}.
 *
 * @example
 * ```ts
 * if (err instanceof SamsaraError && err.code === 'SAMSARA_REAUTHORIZE') res.redirect('/auth/samsara');
 * ```
 */
export type SamsaraErrorCode =
  | 'SAMSARA_CONFIG'
  | 'SAMSARA_TOKEN_REJECTED'
  | 'SAMSARA_BAD_RESPONSE'
  | 'SAMSARA_UNREACHABLE'
  | 'SAMSARA_TIMEOUT'
  | 'SAMSARA_UPSTREAM'
  | 'SAMSARA_PROFILE_UNAUTHORIZED'
  | 'SAMSARA_PROFILE_FORBIDDEN'
  | 'SAMSARA_PROFILE_FAILED'
  | 'SAMSARA_REAUTHORIZE'
  | 'SAMSARA_STORE_UNAVAILABLE'
  | 'SAMSARA_REFRESH_TIMEOUT'
  | 'SAMSARA_SEAL'
  | 'SAMSARA_RATE_LIMITED'
  | 'SAMSARA_REVOKE_FAILED'
  | 'SAMSARA_CROSS_SITE'
  | WebhookErrorCode
  | WebhookUpkeepErrorCode;

/**
 * The base class of every error of this package. Each carries a stable `code` to branch on, the
 * HTTP `status` the Express error handler answers with, and a message that says what happened and
 * what to do; no message ever contains a token, a secret or an authorization code. Every
 * subclass is built the same way: `new XError(message, options)`.
 *
 * @example
 * ```ts
 * import { SamsaraError } from 'passport-samsara';
 * app.use((err, req, res, next) => {
 *   if (err instanceof SamsaraError) return res.status(err.status).json({ error: err.code });
 *   next(err);
 * });
 * ```
 */
export class SamsaraError extends Error {
  /** A stable, machine-readable code such as `SAMSARA_REAUTHORIZE`. */
  readonly code: SamsaraErrorCode;
  /** The HTTP status an app should answer with. */
  readonly status: number;

  constructor(message: string, options: { code: SamsaraErrorCode; status: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.status = options.status;
  }
}

/** What every error's options may carry. */
export interface SamsaraErrorOptions {
  /** The error this one reports, kept for logs; never shown to a client. */
  cause?: unknown;
}
