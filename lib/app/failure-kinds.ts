import {
  CrossSiteRequestError,
  RateLimitedError,
  ReauthorizationRequiredError,
  RetryableError,
  RevokeFailedError,
  SamsaraError,
  StoreUnavailableError,
  UpstreamError,
} from '../errors/index.js';
import { PAGES, type FailureKind } from './failure-pages.js';

// Which failure an error is: the class that decides its page and its status.

/** A failure the app itself decided on (a sign-in that ended without a user, a bad page address). */
export class AppFailure extends Error {
  constructor(readonly kind: FailureKind) {
    super(`the Samsara app answered: ${kind}`);
    this.name = 'AppFailure';
  }
}

/** The failure class of an error, and the status it is answered with. */
export function classify(err: unknown): { kind: FailureKind; status: number } {
  const kind = kindOf(err);
  let status = PAGES[kind].status;
  if (kind === 'unavailable' && err instanceof SamsaraError && err.status >= 500) status = err.status;
  return { kind, status };
}

function kindOf(err: unknown): FailureKind {
  if (err instanceof AppFailure) return err.kind;
  if (err instanceof ReauthorizationRequiredError) return 'reauthorize';
  if (err instanceof StoreUnavailableError) return 'store-down';
  if (err instanceof RateLimitedError) return 'rate-limited';
  if (err instanceof RevokeFailedError) return 'revoke-failed';
  if (err instanceof CrossSiteRequestError) return 'cross-site';
  // RefreshUnavailableError, UpstreamError (unreachable, timeout, 5xx) and the like.
  if (err instanceof RetryableError || err instanceof UpstreamError) return 'unavailable';
  const { name, code, status } = err as { name?: unknown; code?: unknown; status?: unknown };
  // passport-oauth2's: a refused or replayed code, or an error Samsara put on the callback.
  if (name === 'TokenError') return code === 'invalid_grant' ? 'expired' : 'error';
  // Samsara's error on a callback whose state this browser holds (the strategy refuses the others).
  if (name === 'AuthorizationError') {
    if (code === 'server_error' || code === 'temporarily_unavailable') return 'unavailable';
    // Our configuration, which an operator must fix: worth an error-level line.
    if (typeof code === 'string' && MISCONFIGURED.has(code)) return 'error';
    return 'bad-request';
  }
  if (name === 'InternalOAuthError') return 'unavailable';
  // Express's own (a malformed URL, a body it cannot read): 4xx with http-errors' `expose`.
  if (typeof status === 'number' && status >= 400 && status < 500) return status === 404 ? 'not-found' : 'bad-request';
  return 'error';
}

/** RFC 6749 §4.1.2.1's errors that mean the app's own settings are wrong. */
const MISCONFIGURED = new Set(['invalid_request', 'unauthorized_client', 'unsupported_response_type', 'invalid_scope']);
