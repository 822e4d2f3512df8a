import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { DEFAULT_MAX_RATE_LIMIT_WAIT, callSamsara, type CallSamsaraOptions } from './api.js';
import { headersOf } from './errors/http-face.js';
import { ConfigurationError, ReauthorizationRequiredError, SamsaraError } from './errors/index.js';
import { numberOption } from './number-option.js';
import type { TokenManager } from './tokens/manager.js';

/**
 * What the middleware puts on every request as `req.samsara`, bound to the signed-in organization.
 *
 * @example
 * ```ts
 * app.get('/vehicles', async (req, res) => {
 *   const response = await req.samsara.fetch('/fleet/vehicles?limit=100');
 *   res.status(response.status).json(await response.json());
 * });
 * ```
 */
export interface SamsaraRequestContext {
  /** The token store key (organization id) of this request, or undefined when it has none. */
  readonly key: string | undefined;
  /**
   * A fresh access token; `ReauthorizationRequiredError` when nobody is signed in, no organization
   * is connected for the request, or the grant is gone; `ConfigurationError` when somebody is
   * signed in whose `req.user` names no `orgId` (and no `key` option says where it is).
   */
  accessToken(): Promise<string>;
  /**
   * `fetch` against Samsara's API with the Bearer token: `path` is relative to the API base URL
   * (an absolute URL elsewhere is refused). A 401 triggers one refresh and one retry; a 429 waits
   * out a `Retry-After` within the bound, then throws `RateLimitedError`; neither resends a stream body.
   * `init.signal` aborts with its own reason; the client's timeout applies either way
   * (`UpstreamError` `SAMSARA_TIMEOUT`).
   */
  fetch(path: string, init?: RequestInit): Promise<Response_>;
  /** Revokes the organization's grant and deletes its credentials. */
  revoke(): Promise<void>;
}
type Response_ = globalThis.Response;

declare global {
  namespace Express {
    interface Request {
      /** Samsara access for the signed-in organization (set by `samsara()` middleware). */
      samsara: SamsaraRequestContext;
    }
  }
}

/** The default key: the organization the signed-in user names (`req.user.orgId`). */
export function signedInOrg(req: Request): string | undefined {
  const user: { orgId?: unknown } | undefined = req.user;
  const orgId = user?.orgId;
  return typeof orgId === 'string' ? orgId : undefined;
}

/**
 * Options of {@link samsara}.
 *
 * @example
 * ```ts
 * // Your own login: req.user is your user, whose account names the organization it connected.
 * app.use(samsara({ tokens, key: async (req) => (req.user ? await accounts.samsaraOrgOf(req.user.id) : undefined) }));
 * ```
 */
export interface SamsaraMiddlewareOptions {
  tokens: TokenManager;
  /**
   * The token store key (organization id) of a request. Default: `req.user.orgId` (what the
   * strategy's default verify signs in). It decides whose Samsara data the request reads, so read
   * it only from authenticated state (the session's user, your account record): never from a
   * header, the query or the body, which any client sets to any organization it likes.
   */
  key?: (req: Request) => string | undefined | PromiseLike<string | undefined>;
  /** The longest `fetch` waits in total for Samsara's 429s, in ms. Default 5 000. */
  maxRateLimitWait?: number;
}

/**
 * Express middleware that gives every request `req.samsara`, bound to the request's organization
 * (`key`). With a `key` that returns a promise, it is awaited before the next handler runs.
 *
 * @throws `ConfigurationError` at once for a `maxRateLimitWait` that is not a number of ms >= 0.
 *
 * @example
 * ```ts
 * app.use(samsara({ tokens: strategy.tokens }));
 * app.use(samsaraErrorHandler());
 * ```
 */
export function samsara(options: SamsaraMiddlewareOptions): RequestHandler {
  const keyOf = options.key ?? signedInOrg;
  // Checked here, so a bad value fails when the app starts rather than on its first 429.
  const maxRateLimitWait = numberOption(
    'samsara()',
    'maxRateLimitWait',
    options.maxRateLimitWait,
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    { min: 0 },
  );
  return (req, _res, next) => {
    const missing = options.key ? notConnected : () => noOrganization(req);
    const bind = (key: string | undefined): void => {
      req.samsara = context(options.tokens, key, missing, { maxRateLimitWait });
      next();
    };
    let key: string | undefined | PromiseLike<string | undefined>;
    try {
      key = keyOf(req);
    } catch (err) {
      next(err);
      return;
    }
    // A plain key binds at once: the hot path takes no detour through the event loop.
    if (isThenable(key)) key.then(bind, next);
    else bind(key);
  };
}

/** A `key` option that found no organization: the request's account has none connected. */
function notConnected(): Error {
  return new ReauthorizationRequiredError('no Samsara organization is connected for this request', { key: '' });
}

/**
 * Why the default key found no organization. Nobody signed in: sign in. Somebody signed in whose
 * user carries no `orgId`: a verify that returned another shape, which signing in again would not
 * change, so it is said as the configuration error it is.
 */
function noOrganization(req: Request): Error {
  if (req.user === undefined) {
    return new ReauthorizationRequiredError('nobody is signed in to Samsara on this session', { key: '' });
  }
  return new ConfigurationError(
    'Somebody is signed in, but req.user has no orgId (a string) naming their Samsara organization: return { orgId: profile.id, ... } from verify, or pass samsara({ key }) to find the organization.',
  );
}

function context(
  tokens: TokenManager,
  key: string | undefined,
  missing: () => Error,
  apiOptions: CallSamsaraOptions,
): SamsaraRequestContext {
  const signedIn = (): string => {
    if (key !== undefined) return key;
    throw missing();
  };
  return {
    key,
    accessToken: () => tokens.accessToken(signedIn()),
    revoke: () => tokens.revoke(signedIn()),
    fetch: async (path, init) => callSamsara(tokens, signedIn(), path, init, apiOptions),
  };
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | null | undefined)?.then === 'function';
}

/**
 * Options of {@link samsaraErrorHandler}.
 *
 * @example
 * ```ts
 * app.use(samsaraErrorHandler({ signInPath: '/samsara/auth/samsara' }));
 * ```
 */
export interface SamsaraErrorHandlerOptions {
  /** Where a browser goes to sign in again after `ReauthorizationRequiredError`. Default `/auth/samsara`. */
  signInPath?: string;
}

/**
 * Maps this package's errors to HTTP: `ReauthorizationRequiredError` -> a redirect to the sign-in route
 * for a browser's GET, else 401 JSON; `StoreUnavailableError` and `RefreshUnavailableError` -> 503 with
 * `Retry-After`; `RateLimitedError` -> 429 with `Retry-After`; any other `SamsaraError` -> its `status`.
 * The JSON body is `{ error: { code, message } }`. Anything else goes to the next error handler.
 *
 * @example
 * ```ts
 * app.use(samsaraErrorHandler({ signInPath: '/auth/samsara' }));
 * ```
 */
export function samsaraErrorHandler(options: SamsaraErrorHandlerOptions = {}): ErrorRequestHandler {
  const signInPath = options.signInPath ?? '/auth/samsara';
  return (err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!(err instanceof SamsaraError) || res.headersSent) {
      next(err);
      return;
    }
    if (err instanceof ReauthorizationRequiredError && req.method === 'GET' && prefersHTML(req)) {
      res.redirect(303, signInPath);
      return;
    }
    res.set(headersOf(err));
    // A server-side failure's message names internals (a Redis address, Samsara's own words): the
    // client gets a fixed sentence, the app's logs get the error itself.
    const message =
      err.status >= 500
        ? (SERVER_SIDE_MESSAGES[err.status] ?? 'Samsara is unavailable; try again later.')
        : err.message;
    res.status(err.status).json({ error: { code: err.code, message } });
  };
}

const SERVER_SIDE_MESSAGES: Record<number, string> = {
  500: 'The Samsara integration is misconfigured.',
  502: 'Samsara answered unexpectedly; try again later.',
  503: 'Samsara access is briefly unavailable; retry after the Retry-After delay.',
  504: 'Samsara did not answer in time; try again later.',
};

function prefersHTML(req: Request): boolean {
  return req.accepts(['json', 'html']) === 'html';
}
