import { randomBytes } from 'node:crypto';

// What a handler answers, in the shapes Samsara speaks: JSON for the API, RFC 6749 errors for the
// token and revoke endpoints, HTML pages and redirects for the authorize endpoint.

/** An answer, built without a socket; the pipeline writes it. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The RFC 6749 error code of an OAuth error reply, for the counters. */
  oauthError?: string;
}

/** Thrown deep inside a handler to answer at once; the router turns it back into its reply. */
export class Refusal extends Error {
  constructor(readonly reply: Reply) {
    super(`HTTP ${reply.status}`);
  }
}

export const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(body),
  };
}

/** RFC 6749 §5.2, never cached. */
export function oauthError(
  status: number,
  error: string,
  description: string,
  headers: Record<string, string> = {},
): Reply {
  return { ...json(status, { error, error_description: description }, { ...NO_STORE, ...headers }), oauthError: error };
}

export function invalidGrant(description: string): Refusal {
  return new Refusal(oauthError(400, 'invalid_grant', description));
}

/** Samsara's API error shape. */
export function apiError(status: number, message: string, headers: Record<string, string> = {}): Reply {
  return json(status, { message, requestId: requestId() }, headers);
}

export function htmlError(status: number, message: string, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', ...NO_STORE, ...headers },
    body: `<!doctype html><html><head><meta charset="utf-8"><title>Samsara emulator: error</title></head><body><h1>This request cannot be authorized</h1><p>${escapeHTML(message)}</p></body></html>`,
  };
}

export function redirect(target: string, params: Record<string, string>): Reply {
  const location = new URL(target);
  for (const [name, value] of Object.entries(params)) location.searchParams.set(name, value);
  return { status: 302, headers: { location: location.href, ...NO_STORE }, body: '' };
}

/** What a failure of the emulator itself answers: Samsara's error shape, so clients parse it as they would a real 500. */
export function emulatorBug(err: unknown): Reply {
  return apiError(500, `Emulator bug: ${err instanceof Error ? err.message : String(err)}`);
}

export function requestId(): string {
  return randomBytes(8).toString('hex');
}

export function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
