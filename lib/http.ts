import { BadResponseError, UpstreamError } from './errors/index.js';

/** What a bounded request gives back: the status, the headers and the whole (capped) body. */
export interface BoundedResponse {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * One outbound request with a deadline that covers the body too, and a cap on the body's size
 * (a misbehaving upstream must not make us buffer megabytes). `what` names the endpoint in errors;
 * no URL query, header or body ever reaches a message.
 */
export async function boundedFetch(
  url: string,
  init: RequestInit,
  limits: { timeout: number; maxBytes: number; what: string },
): Promise<BoundedResponse> {
  const signal = AbortSignal.timeout(limits.timeout);
  try {
    const response = await fetch(url, { ...init, signal, redirect: 'manual' });
    const body = await readCapped(response, limits.maxBytes, limits.what);
    return { status: response.status, headers: response.headers, body };
  } catch (err) {
    if (err instanceof BadResponseError) throw err;
    throw networkFailure(err, signal.aborted, limits.what, limits.timeout);
  }
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
