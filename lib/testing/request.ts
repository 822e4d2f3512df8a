import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { EmulatorEndpoint } from './faults.js';
import { apiError, htmlError, oauthError, type Reply } from './replies.js';

// What a handler sees of a request, and how the pipeline gets it off the socket. Nothing a client
// sends may throw here: whatever it is, it becomes a request a handler can refuse.

/** A request as the handlers take it: no socket, so a test can build one by hand. */
export interface EmulatorRequest {
  /** Upper case, as Node's parser delivers it. */
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  /** The body read as a form; empty for a GET. */
  form: URLSearchParams;
  /** The body as text ('' for none), for the endpoints that take JSON. */
  body: string;
}

export const MAX_BODY = 16 * 1024;

const ORIGIN = 'http://emulator.invalid';

/**
 * The request target as a URL on the emulator, or undefined when it names no path.
 * RFC 9112 §3.2: origin-form (`/path?query`) and absolute-form (`http://host/path`, what proxies
 * send) name a path; asterisk-form (`*`) and anything else do not. The origin-form is appended to a
 * fixed origin rather than resolved against it, because `//x` resolved is a URL on host `x` (and
 * `//` alone no URL at all).
 */
export function requestTarget(target: string | undefined): URL | undefined {
  if (target === undefined) return undefined;
  if (target.startsWith('/')) return parse(ORIGIN + target);
  const absolute = /^https?:\/\//i.test(target) ? parse(target) : undefined;
  return absolute && parse(ORIGIN + absolute.pathname + absolute.search);
}

function parse(text: string): URL | undefined {
  return URL.canParse(text) ? new URL(text) : undefined;
}

/** The body as text, or undefined past MAX_BODY (then the rest is left unread and the socket closed). */
export async function readBody(req: IncomingMessage): Promise<string | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** 413 in the shape the endpoint speaks; the unread rest of the body makes the connection unusable. */
export function tooLarge(endpoint: EmulatorEndpoint | undefined): Reply {
  const message = `The request body is larger than ${MAX_BODY} bytes.`;
  const close = { connection: 'close' };
  if (endpoint === 'token' || endpoint === 'revoke') return oauthError(413, 'invalid_request', message, close);
  return endpoint === 'authorize' ? htmlError(413, message, close) : apiError(413, message, close);
}

/** 400 for a request target that names no path (`*`, `GET //` resolved, a malformed absolute URL). */
export function badTarget(): Reply {
  return apiError(400, 'The request target is not a path on this server.');
}
