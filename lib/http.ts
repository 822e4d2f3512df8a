import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { BadResponseError, UpstreamError } from './errors/index.js';

/**
 * What a bounded request gives back: the status and the whole (capped) body. Its headers are not
 * copied out: nobody reads them, and a WHATWG `Headers` cost a token call a tenth of a millisecond
 * or more after an idle gap (docs/performance.md, "Where a single refresh's time goes").
 */
export interface BoundedResponse {
  status: number;
  body: string;
}

/** What {@link boundedRequest} sends: a method, its headers and a text body. */
export interface OutboundRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * Milliseconds an idle kept-alive socket stays open (undici's default too): below the idle
 * timeouts of common load balancers, so a request seldom meets a socket the far end just closed.
 * A server's own `Keep-Alive: timeout` hint, when shorter, wins.
 */
const IDLE_TIMEOUT = 4_000;

/**
 * Kept-alive sockets for the token endpoint and its like: one TLS (or TCP) handshake per
 * upstream, not per request. `fetch` keeps its connections alive too, but costs about a
 * millisecond more per request in its streams (docs/performance.md, "Where a single refresh's time goes").
 */
const KEEP_ALIVE = { keepAlive: true, timeout: IDLE_TIMEOUT };
const AGENTS = { 'http:': new HttpAgent(KEEP_ALIVE), 'https:': new HttpsAgent(KEEP_ALIVE) };

/**
 * One outbound request with a deadline that covers the body too, and a cap on the body's size
 * (a misbehaving upstream must not make us buffer megabytes); redirects are answered, not followed.
 * `what` names the endpoint in errors; no URL query, header or body ever reaches a message.
 */
export function boundedRequest(
  url: string,
  init: OutboundRequest,
  limits: { timeout: number; maxBytes: number; what: string },
): Promise<BoundedResponse> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const agent = target.protocol === 'https:' ? AGENTS['https:'] : AGENTS['http:'];
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const fail = (err: unknown): void => {
      clearTimeout(timer);
      reject(err instanceof BadResponseError ? err : networkFailure(err, timedOut, limits.what, limits.timeout));
    };
    const request = send(target, { method: init.method, headers: init.headers, agent }, (response) => {
      const declared = Number(response.headers['content-length']);
      if (declared > limits.maxBytes) {
        response.destroy();
        fail(
          new BadResponseError(`${limits.what} sent a ${declared}-byte body; the limit is ${limits.maxBytes} bytes.`),
        );
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size > limits.maxBytes) {
          response.destroy();
          fail(
            new BadResponseError(
              `${limits.what} sent more than ${limits.maxBytes} bytes; the limit is ${limits.maxBytes} bytes.`,
            ),
          );
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', fail);
      response.on('close', () => {
        if (!response.complete) fail(new Error('the connection closed mid-body'));
      });
      response.on('end', () => {
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    const timer = setTimeout(() => {
      timedOut = true;
      request.destroy(new Error('timeout'));
    }, limits.timeout);
    request.on('error', fail);
    request.end(init.body);
  });
}

/**
 * A request that got no answer, as `UpstreamError`: `SAMSARA_TIMEOUT` when its deadline passed,
 * else `SAMSARA_UNREACHABLE` with the network's reason (a code such as `ECONNREFUSED`, never a URL).
 */
export function networkFailure(err: unknown, timedOut: boolean, what: string, timeout: number): UpstreamError {
  return timedOut
    ? new UpstreamError(`${what} did not answer within ${timeout} ms.`, { code: 'SAMSARA_TIMEOUT', cause: err })
    : new UpstreamError(`${what} could not be reached (${networkReason(err)}).`, {
        code: 'SAMSARA_UNREACHABLE',
        cause: err,
      });
}

/**
 * The whole body of `response` as text, refused past `maxBytes` (`BadResponseError`): a
 * misbehaving upstream must not make us buffer megabytes.
 */
export async function readCapped(response: Response, maxBytes: number, what: string): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new BadResponseError(`${what} sent a ${declared}-byte body; the limit is ${maxBytes} bytes.`);
  }
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      // Leaving the loop cancels the stream, so the rest is never read.
      throw new BadResponseError(`${what} sent more than ${maxBytes} bytes; the limit is ${maxBytes} bytes.`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function networkReason(err: unknown): string {
  // fetch puts the network's code on the cause; node:http, on the error itself.
  const own = (err as { code?: unknown } | undefined)?.code;
  if (typeof own === 'string') return own;
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return err instanceof Error ? err.message : 'network error';
}

/** `JSON.parse` that answers undefined instead of throwing: server bodies are untrusted. */
export function parseJSON(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A plain JSON object (not an array, not null), or undefined. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
