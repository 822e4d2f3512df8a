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
import { REAUTHORIZE_CHALLENGE, retryAfterSeconds } from '../errors/http-face.js';
import type { Brand } from './brand.js';
import { PAGES, type FailureKind } from './failure-pages.js';
import { escapeHTML, layout } from './html.js';

export type { FailureKind } from './failure-pages.js';

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

/** What a failure page needs besides the request: your brand, and your sign-in page (with `account`). */
export interface FailureContext {
  brand: Brand;
  signInURL: string | undefined;
}

/**
 * The app's final error handler: a page (or JSON, for a client that asks for it) per failure
 * class, a log entry with a reference the page shows, and never a stack trace or an error's own
 * text in the response, whatever NODE_ENV is. A 404 is neither logged nor given a reference:
 * there is nothing to look up, and scanners would fill the log.
 */
export function failureHandler(log: SamsaraAppLog, context: FailureContext): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const { kind, status } = classify(err);
    const ref = kind === 'not-found' ? undefined : randomBytes(6).toString('hex');
    if (ref !== undefined) log(logEntry(err, req, kind, status, ref));
    if (res.headersSent) {
      // Too late for a page: end the response so the client does not wait for the rest.
      res.destroy();
      return;
    }
    const retryAfter = err instanceof RetryableError ? err.retryAfter : undefined;
    sendFailure(req, res, context, { kind, status, ref, retryAfter });
  };
}

/** Answers a failure page (or JSON) with its status. */
export function sendFailure(
  req: Request,
  res: Response,
  context: FailureContext,
  failure: { kind: FailureKind; status?: number; ref?: string | undefined; retryAfter?: number | undefined },
): void {
  const { kind, ref, retryAfter } = failure;
  const page = PAGES[kind];
  const wait = retryAfter === undefined ? undefined : retryAfterSeconds(retryAfter);
  if (wait !== undefined) res.set('Retry-After', String(wait));
  if (kind === 'reauthorize') res.set('WWW-Authenticate', REAUTHORIZE_CHALLENGE);
  res.status(failure.status ?? page.status).set('Cache-Control', 'no-store');
  if (req.accepts(['html', 'json']) === 'json') {
    res.json({ error: { code: page.code, message: page.what, ...(ref ? { ref } : {}) } });
    return;
  }
  const base = req.baseUrl;
  const targets = { connect: `${base}/auth/samsara`, home: `${base}/`, retry: retryTarget(req) };
  const href = page.next.href === 'sign-in' ? (context.signInURL ?? `${base}/`) : targets[page.next.href];
  const body = `<div class="notice problem" role="alert"><p id="failure" data-kind="${kind}">${escapeHTML(page.what)}</p>
${wait === undefined ? '' : `<p>Wait <strong id="retry-after">${wait}</strong> second${wait === 1 ? '' : 's'} before trying again.</p>`}
${ref ? `<p class="muted">Reference: <code id="ref">${ref}</code></p>` : ''}</div>
<p><a class="button" id="next" href="${escapeHTML(href)}">${escapeHTML(page.next.label)}</a></p>`;
  res.type('html').send(layout({ base, brand: context.brand }, page.title, body));
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
