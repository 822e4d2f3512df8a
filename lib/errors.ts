/**
 * Every error the package raises. Each carries a stable `code` to branch on, the HTTP `status`
 * the Express error handler answers with, and a message that says what happened and what to do.
 * No message ever contains a token, a secret or an authorization code.
 */

/**
 * The stable codes of {@link SamsaraError}.
 *
 * @example
 * ```ts
 * if ((err as SamsaraError).code === ('SAMSARA_REAUTHORIZE' satisfies SamsaraErrorCode)) res.redirect('/auth/samsara');
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
  | 'SAMSARA_CROSS_SITE';

/**
 * The base class of every error of this package.
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

  constructor(code: SamsaraErrorCode, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/**
 * The package is misconfigured: a missing client id or secret, an unknown region, a Redis store
 * without a sealing key. Thrown at construction, before any request.
 *
 * @example
 * ```ts
 * try { new SamsaraStrategy(); } catch (err) { if (err instanceof ConfigurationError) console.error(err.message); }
 * ```
 */
export class ConfigurationError extends SamsaraError {
  constructor(message: string) {
    super('SAMSARA_CONFIG', 500, message);
  }
}

/**
 * Samsara answered something other than what its contract promises: a non-JSON or oversized
 * token response, one without `access_token` or `expires_in`, a `/me` body without an id.
 *
 * @example
 * ```ts
 * if (err instanceof BadResponseError) log.warn({ code: err.code }, err.message);
 * ```
 */
export class BadResponseError extends SamsaraError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SAMSARA_BAD_RESPONSE', 502, message, options);
  }
}

/**
 * Samsara could not be reached (`SAMSARA_UNREACHABLE`, 502), did not answer within the configured
 * `timeout` (`SAMSARA_TIMEOUT`, 504), or failed with an HTTP error and no OAuth error body
 * (`SAMSARA_UPSTREAM`, 502). All three are worth a retry.
 *
 * @example
 * ```ts
 * if (err instanceof UpstreamError && err.code === 'SAMSARA_TIMEOUT') retryLater();
 * ```
 */
export class UpstreamError extends SamsaraError {
  /** The HTTP status Samsara answered with, when it answered. */
  readonly upstreamStatus: number | undefined;

  constructor(
    code: 'SAMSARA_UNREACHABLE' | 'SAMSARA_TIMEOUT' | 'SAMSARA_UPSTREAM',
    message: string,
    options?: { cause?: unknown; upstreamStatus?: number },
  ) {
    super(code, code === 'SAMSARA_TIMEOUT' ? 504 : 502, message, options);
    this.upstreamStatus = options?.upstreamStatus;
  }
}

/**
 * The token endpoint refused a request with an RFC 6749 §5.2 error (`oauthError`, e.g.
 * `invalid_grant` or `invalid_client`). The token manager handles `invalid_grant` itself
 * (`ReauthorizationRequired`) and retries the `transient` ones; during sign-in the strategy hands
 * it to passport as passport-oauth2's `TokenError`. `status` is 400 for a refused sign-in code,
 * 500 for a rejected client (check the client id and secret), 502 otherwise.
 *
 * @example
 * ```ts
 * if (err instanceof TokenRejectedError && err.oauthError === 'invalid_client') alertOps('check SAMSARA_CLIENT_SECRET');
 * ```
 */
export class TokenRejectedError extends SamsaraError {
  /** The `error` field of the token endpoint's answer, e.g. `invalid_client`. */
  readonly oauthError: string;
  /** Samsara's `error_description`, when it sent one (printable characters only, at most 200). */
  readonly description: string | undefined;
  /** The HTTP status of the token endpoint's answer. */
  readonly upstreamStatus: number;
  /** Whether a retry may succeed: Samsara answered 5xx or `temporarily_unavailable`. */
  readonly transient: boolean;

  constructor(
    oauthError: string,
    options: { description?: string | undefined; upstreamStatus: number; status: number; transient: boolean },
  ) {
    const { description } = options;
    super(
      'SAMSARA_TOKEN_REJECTED',
      options.status,
      `Samsara's token endpoint refused the request (${oauthError}${description ? `: ${description}` : ''}).`,
    );
    this.oauthError = oauthError;
    this.description = description;
    this.upstreamStatus = options.upstreamStatus;
    this.transient = options.transient;
  }
}

/**
 * `GET /me` failed after sign-in. `SAMSARA_PROFILE_FORBIDDEN` (403) means the app lacks the
 * "Read Org Information" scope; `SAMSARA_PROFILE_UNAUTHORIZED` (502) that Samsara rejected the token
 * it had just issued; `SAMSARA_PROFILE_FAILED` (502) any other failure.
 *
 * @example
 * ```ts
 * if (err instanceof ProfileError && err.code === 'SAMSARA_PROFILE_FORBIDDEN') showScopeHelp();
 * ```
 */
export class ProfileError extends SamsaraError {
  /** The HTTP status `/me` answered with, when it answered. */
  readonly upstreamStatus: number | undefined;

  constructor(
    code: 'SAMSARA_PROFILE_UNAUTHORIZED' | 'SAMSARA_PROFILE_FORBIDDEN' | 'SAMSARA_PROFILE_FAILED',
    message: string,
    options?: { cause?: unknown; upstreamStatus?: number },
  ) {
    super(code, code === 'SAMSARA_PROFILE_FORBIDDEN' ? 403 : 502, message, options);
    this.upstreamStatus = options?.upstreamStatus;
  }
}

/**
 * The organization must sign in again: its grant was revoked, rotated away or never existed here.
 * The credentials are gone from the store. HTTP 401.
 *
 * @example
 * ```ts
 * try { await manager.accessToken(orgId); }
 * catch (err) { if (err instanceof ReauthorizationRequired) res.redirect('/auth/samsara'); }
 * ```
 */
export class ReauthorizationRequired extends SamsaraError {
  /** Which organization (token store key) must sign in again. */
  readonly key: string;

  constructor(key: string, reason: string, options?: { cause?: unknown }) {
    super('SAMSARA_REAUTHORIZE', 401, `The Samsara organization must sign in again: ${reason}.`, options);
    this.key = key;
  }
}

/**
 * The token store (Redis) is unreachable or too slow; nothing was refreshed. HTTP 503 with
 * `Retry-After: retryAfter`.
 *
 * @example
 * ```ts
 * if (err instanceof StoreUnavailable) res.set('Retry-After', String(err.retryAfter)).sendStatus(503);
 * ```
 */
export class StoreUnavailable extends SamsaraError {
  /** Seconds after which a retry may succeed. */
  readonly retryAfter: number;

  constructor(message: string, options?: { cause?: unknown; retryAfter?: number }) {
    super('SAMSARA_STORE_UNAVAILABLE', 503, message, options);
    this.retryAfter = options?.retryAfter ?? 1;
  }
}

/**
 * Another process holds the refresh lock and did not finish within the wait deadline, or the token
 * endpoint kept failing while the old access token had already expired. HTTP 503; retry shortly.
 *
 * @example
 * ```ts
 * if (err instanceof RefreshUnavailable) res.set('Retry-After', String(err.retryAfter)).sendStatus(503);
 * ```
 */
export class RefreshUnavailable extends SamsaraError {
  /** Seconds after which a retry may succeed. */
  readonly retryAfter: number;

  constructor(message: string, options?: { cause?: unknown; retryAfter?: number }) {
    super('SAMSARA_REFRESH_TIMEOUT', 503, message, options);
    this.retryAfter = options?.retryAfter ?? 1;
  }
}

/**
 * A sealed value could not be opened: sealed under a key id the keyring lacks, or tampered with.
 *
 * @example
 * ```ts
 * if (err instanceof SealError) console.error('add the old key back to the keyring:', err.message);
 * ```
 */
export class SealError extends SamsaraError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SAMSARA_SEAL', 500, message, options);
  }
}

/**
 * Samsara kept answering 429 past the wait bound of `req.samsara.fetch`. HTTP 429 with
 * `Retry-After`.
 *
 * @example
 * ```ts
 * if (err instanceof RateLimited) res.set('Retry-After', String(Math.ceil(err.retryAfter))).sendStatus(429);
 * ```
 */
export class RateLimited extends SamsaraError {
  /** Seconds Samsara asked to wait (may be fractional). */
  readonly retryAfter: number;

  constructor(retryAfter: number) {
    super('SAMSARA_RATE_LIMITED', 429, `Samsara's rate limit was hit; retry after ${retryAfter} s.`);
    this.retryAfter = retryAfter;
  }
}

/**
 * Samsara's revoke endpoint failed. The local credentials are deleted all the same.
 *
 * @example
 * ```ts
 * try { await manager.revoke(orgId); } catch (err) { if (err instanceof RevokeFailed) log.warn(err.message); }
 * ```
 */
export class RevokeFailed extends SamsaraError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SAMSARA_REVOKE_FAILED', 502, message, options);
  }
}

/**
 * A request that may only come from the app's own pages (Disconnect) came from another origin:
 * another site, a sibling subdomain or another port of the same host. Nothing was done. HTTP 403.
 *
 * @example
 * ```ts
 * if (err instanceof CrossSiteRequestError) res.status(403).send('Disconnect from the app itself.');
 * ```
 */
export class CrossSiteRequestError extends SamsaraError {
  constructor(message: string) {
    super('SAMSARA_CROSS_SITE', 403, message);
  }
}
