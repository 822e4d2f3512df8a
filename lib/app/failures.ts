import { randomBytes } from 'node:crypto';
import type { ErrorRequestHandler, Request, Response } from 'express';
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
import { escapeHTML, layout } from './html.js';

/**
 * Every way a request of the app can fail, each with its own page, status and next step: consent
 * `denied` (403), a sign-in that `expired` (state missing, spent or too old; 400), an organization
 * your verify `refused` (403), `reauthorize` (401), Samsara `unavailable` (502/503/504) or
 * `rate-limited` (429), the token store down (`store-down`, 503), `revoke-failed` (502), a
 * `cross-site` Disconnect (403), `bad-request` (400), `not-found` (404) and `error` (500).
 *
 * @example
 * ```ts
 * createSamsaraApp({ log: (entry) => { if (entry.kind === ('store-down' satisfies FailureKind)) pager.alert(entry.ref); } });
 * ```
 */
export type FailureKind =
  | 'denied'
  | 'expired'
  | 'refused'
  | 'reauthorize'
  | 'unavailable'
  | 'rate-limited'
  | 'store-down'
  | 'revoke-failed'
  | 'cross-site'
  | 'bad-request'
  | 'not-found'
  | 'error';

interface FailurePage {
  status: number;
  /** A stable code for JSON clients. */
  code: string;
  title: string;
  /** What happened, in the user's terms: never the error's own text. */
  what: string;
  /** The next step: a link (GET) to a page of the app. */
  next: { label: string; href: 'connect' | 'home' | 'retry' };
}

const PAGES: Record<FailureKind, FailurePage> = {
  denied: {
    status: 403,
    code: 'SAMSARA_ACCESS_DENIED',
    title: 'Access was not granted',
    what: 'Samsara reports that the request was declined, so nothing was connected.',
    next: { label: 'Connect Samsara again and choose Allow', href: 'connect' },
  },
  expired: {
    status: 400,
    code: 'SAMSARA_SIGN_IN_EXPIRED',
    title: 'This sign-in cannot be finished',
    what: 'The sign-in expired, was already used, or was started in another browser. Nothing was connected.',
    next: { label: 'Start the sign-in again', href: 'connect' },
  },
  refused: {
    status: 403,
    code: 'SAMSARA_ORGANIZATION_REFUSED',
    title: 'This organization cannot be connected',
    what: 'This app does not accept that Samsara organization. Nothing was kept.',
    next: { label: 'Back to the start page', href: 'home' },
  },
  reauthorize: {
    status: 401,
    code: 'SAMSARA_REAUTHORIZE',
    title: 'Connect Samsara again',
    what: 'Samsara no longer accepts this app for your organization: it was disconnected or uninstalled in Samsara, or the sign-in ended.',
    next: { label: 'Connect Samsara', href: 'connect' },
  },
  unavailable: {
    status: 502,
    code: 'SAMSARA_UNAVAILABLE',
    title: 'Samsara is not answering',
    what: 'Samsara could not be reached or answered with an error. Your connection is unchanged.',
    next: { label: 'Try again', href: 'retry' },
  },
  'rate-limited': {
    status: 429,
    code: 'SAMSARA_RATE_LIMITED',
    title: 'Samsara asked us to slow down',
    what: 'Too many requests reached Samsara for your organization in a short time. Your connection is unchanged.',
    next: { label: 'Try again', href: 'retry' },
  },
  'store-down': {
    status: 503,
    code: 'SAMSARA_STORE_UNAVAILABLE',
    title: 'The connection is briefly unavailable',
    what: 'The app cannot reach the store that keeps your Samsara connection. Nothing was changed.',
    next: { label: 'Try again', href: 'retry' },
  },
  'revoke-failed': {
    status: 502,
    code: 'SAMSARA_REVOKE_FAILED',
    title: 'Disconnect did not finish',
    what: 'You are signed out here, but Samsara did not confirm the revocation: the connection is still active in Samsara.',
    next: { label: 'Connect, then Disconnect again', href: 'connect' },
  },
  'cross-site': {
    status: 403,
    code: 'SAMSARA_CROSS_SITE',
    title: 'Disconnect from this app’s own page',
    what: 'A Disconnect request came from another site, so nothing was done.',
    next: { label: 'Go to the start page', href: 'home' },
  },
  'bad-request': {
    status: 400,
    code: 'SAMSARA_BAD_REQUEST',
    title: 'This page address is not valid',
    what: 'The address is malformed, or points to a page that no longer exists.',
    next: { label: 'Go to the start page', href: 'home' },
  },
  'not-found': {
    status: 404,
    code: 'SAMSARA_NOT_FOUND',
    title: 'Page not found',
    what: 'There is no page at this address.',
    next: { label: 'Go to the start page', href: 'home' },
  },
  error: {
    status: 500,
    code: 'SAMSARA_APP_ERROR',
    title: 'Something went wrong',
    what: 'The app failed to handle this request. It has been logged with the reference below.',
    next: { label: 'Go to the start page', href: 'home' },
  },
};

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
  if (name === 'AuthorizationError') {
    return code === 'server_error' || code === 'temporarily_unavailable' ? 'unavailable' : 'error';
  }
  if (name === 'InternalOAuthError') return 'unavailable';
  // Express's own (a malformed URL, a body it cannot read): 4xx with http-errors' `expose`.
  if (typeof status === 'number' && status >= 400 && status < 500) return status === 404 ? 'not-found' : 'bad-request';
  return 'error';
}

/**
 * The app's final error handler: a page (or JSON, for a client that asks for it) per failure
 * class, a log entry with a reference the page shows, and never a stack trace or an error's own
 * text in the response, whatever NODE_ENV is.
 */
export function failureHandler(log: SamsaraAppLog): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const { kind, status } = classify(err);
    const ref = randomBytes(6).toString('hex');
    log(logEntry(err, req, kind, status, ref));
    if (res.headersSent) {
      // Too late for a page: end the response so the client does not wait for the rest.
      res.destroy();
      return;
    }
    sendFailure(req, res, kind, status, ref, err instanceof RetryableError ? err.retryAfter : undefined);
  };
}

/** Answers a failure page (or JSON) with its status. */
export function sendFailure(
  req: Request,
  res: Response,
  kind: FailureKind,
  status = PAGES[kind].status,
  ref?: string,
  retryAfter?: number,
): void {
  const page = PAGES[kind];
  const wait = retryAfter === undefined ? undefined : Math.max(1, Math.ceil(retryAfter));
  if (wait !== undefined) res.set('Retry-After', String(wait));
  if (kind === 'reauthorize') res.set('WWW-Authenticate', 'Bearer realm="samsara", error="invalid_token"');
  res.status(status).set('Cache-Control', 'no-store');
  if (req.accepts(['html', 'json']) === 'json') {
    res.json({ error: { code: page.code, message: page.what, ...(ref ? { ref } : {}) } });
    return;
  }
  const base = req.baseUrl;
  const href = { connect: `${base}/auth/samsara`, home: `${base}/`, retry: retryTarget(req) }[page.next.href];
  const body = `<div class="notice problem" role="alert"><p id="failure" data-kind="${kind}">${escapeHTML(page.what)}</p>
${wait === undefined ? '' : `<p>Wait <strong id="retry-after">${wait}</strong> second${wait === 1 ? '' : 's'} before trying again.</p>`}
${ref ? `<p class="muted">Reference: <code id="ref">${ref}</code></p>` : ''}</div>
<p><a class="button" id="next" href="${escapeHTML(href)}">${escapeHTML(page.next.label)}</a></p>`;
  res.type('html').send(layout({ base }, page.title, body));
}

/** A GET page is retried where it was, a sign-in from its start; anything else goes back to the start page. */
function retryTarget(req: Request): string {
  if (req.path.startsWith('/auth/samsara')) return `${req.baseUrl}/auth/samsara`;
  return req.method === 'GET' ? req.baseUrl + req.path : `${req.baseUrl}/`;
}

/**
 * What the log gets: the class, the status, the reference, the route (never the query, which
 * carries codes and states) and the error's name and code. The message only for the package's own
 * errors, which never name a token, a secret or a code; any other error's text (a description
 * Samsara or a forged callback put in the URL, a verify's exception) stays out.
 */
function logEntry(err: unknown, req: Request, kind: FailureKind, status: number, ref: string): SamsaraAppLogEntry {
  const { name, code } = err as { name?: unknown; code?: unknown };
  return {
    level: status >= 500 ? 'error' : 'warn',
    event: 'samsara-app.failure',
    kind,
    status,
    ref,
    method: req.method,
    path: req.baseUrl + req.path,
    ...(typeof name === 'string' && SAFE_WORD.test(name) ? { error: name } : {}),
    ...(typeof code === 'string' && SAFE_WORD.test(code) ? { code } : {}),
    ...(err instanceof SamsaraError ? { message: err.message } : {}),
  };
}

const SAFE_WORD = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * One log entry of the app: a failure it answered. No token, secret, code or cookie value is ever
 * part of one.
 *
 * @example
 * ```ts
 * createSamsaraApp({ tokens, log: (entry: SamsaraAppLogEntry) => logger[entry.level](entry) });
 * ```
 */
export interface SamsaraAppLogEntry {
  level: 'warn' | 'error';
  event: 'samsara-app.failure';
  /** The failure class, which decides the page. */
  kind: FailureKind;
  status: number;
  /** Shown on the error page, so a user's report finds this entry. */
  ref: string;
  method: string;
  /** The path, without the query string. */
  path: string;
  /** The error's class name. */
  error?: string;
  /** The error's code (`SAMSARA_STORE_UNAVAILABLE`, `invalid_grant`...). */
  code?: string;
  /** The message of this package's own errors only. */
  message?: string;
}

/**
 * Where the app's log entries go.
 *
 * @example
 * ```ts
 * const log: SamsaraAppLog = (entry) => console.error(JSON.stringify(entry));
 * ```
 */
export type SamsaraAppLog = (entry: SamsaraAppLogEntry) => void;

/** The default: one JSON line on stderr (JSON keeps a forged CR/LF from starting a line of its own). */
export const stderrLog: SamsaraAppLog = (entry) => {
  process.stderr.write(`${JSON.stringify(entry)}\n`);
};
