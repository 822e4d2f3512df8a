import { randomBytes } from 'node:crypto';
import type { ErrorRequestHandler, Request, Response } from 'express';
import { RetryableError } from '../errors/index.js';
import { REAUTHORIZE_CHALLENGE, retryAfterSeconds } from '../errors/http-face.js';
import type { Brand } from './brand.js';
import { classify } from './failure-kinds.js';
import { logEntry, type SamsaraAppLog } from './failure-log.js';
import { PAGES, type FailureKind } from './failure-pages.js';
import { escapeHTML, layout } from './html.js';

// The app's final error handler, and the failure page (or JSON) it answers with.

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
function sendFailure(
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
