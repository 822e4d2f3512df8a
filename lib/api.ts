import { setTimeout as sleep } from 'node:timers/promises';
import type { SamsaraEndpoints } from './endpoints.js';
import { RateLimitedError } from './errors/index.js';
import { networkFailure } from './http.js';
import { numberOption } from './options.js';
import { parseRetryAfter } from './retry-after.js';
import type { TokenManager } from './tokens/manager.js';

/**
 * What {@link callSamsara} needs of a `TokenManager`: a token (forcing a refresh for one the API
 * rejected), the API's base URL and the request timeout. Structural, so that any caller holding a
 * `TokenManager` (the middleware, a job) can pass it as is.
 *
 * @example
 * ```ts
 * const tokens: SamsaraApiTokens = new TokenManager({ store });
 * ```
 */
export type SamsaraApiTokens = Pick<TokenManager, 'accessToken'> & {
  readonly client: Pick<TokenManager['client'], 'endpoints' | 'timeout'>;
};

/**
 * Options of {@link callSamsara}.
 *
 * @example
 * ```ts
 * const options: CallSamsaraOptions = { maxRateLimitWait: 2_000 };
 * ```
 */
export interface CallSamsaraOptions {
  /**
   * The longest one call waits in total for Samsara's 429s, in ms; past it the call throws
   * `RateLimitedError`. 0 never waits. Default 5 000.
   */
  maxRateLimitWait?: number;
}

/** The default of {@link CallSamsaraOptions.maxRateLimitWait}. */
export const DEFAULT_MAX_RATE_LIMIT_WAIT = 5_000;

/** A floor on each 429 wait, so that `Retry-After: 0` cannot turn into a busy loop. */
const MIN_RATE_LIMIT_WAIT = 50;

/**
 * One call to Samsara's API for the organization `key`, with its Bearer token.
 *
 * - `path` is relative to the API base URL; an absolute URL must lie under it, or the call throws
 *   `TypeError` before any token is read: the token must never leave for another host. Redirects
 *   are not followed (`redirect: 'manual'`) for the same reason.
 * - Each attempt has the client's `timeout` (`UpstreamError` `SAMSARA_TIMEOUT`, 504), which keeps
 *   running while the body is read; a network failure is `UpstreamError` `SAMSARA_UNREACHABLE` (502).
 * - `init.signal` aborts the call at any point (sending, waiting out a 429, waiting for a refresh)
 *   and the call then rejects with the signal's own `reason`, as `fetch` does.
 * - A 401 refreshes the token once (the store may already hold a newer one) and sends again; a
 *   429 waits its `Retry-After` (at least 50 ms each time) while the total stays within
 *   `maxRateLimitWait`, then throws `RateLimitedError`. Both resend the body, so neither happens for a
 *   one-shot body (a `ReadableStream` or an async iterable): its 401 or 429 comes back as is.
 *
 * @example
 * ```ts
 * const response = await callSamsara(tokens, '1001', '/fleet/vehicles?limit=100', { signal }, { maxRateLimitWait: 2_000 });
 * const { data } = await response.json();
 * ```
 */
export async function callSamsara(
  tokens: SamsaraApiTokens,
  key: string,
  path: string,
  init: RequestInit = {},
  options: CallSamsaraOptions = {},
): Promise<Response> {
  const maxWait = numberOption(
    'callSamsara',
    'maxRateLimitWait',
    options.maxRateLimitWait,
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    { min: 0 },
  );
  const url = apiURL(tokens.client.endpoints, path);
  const caller = init.signal ?? undefined;
  caller?.throwIfAborted();
  const send = (token: string): Promise<Response> => attempt(url, init, token, tokens.client.timeout, caller);
  const replay = replayable(init.body);

  let token = await untilAborted(tokens.accessToken(key), caller);
  let response = await send(token);
  let waited = 0;
  let refreshed = false;
  while (replay) {
    if (response.status === 401 && !refreshed) {
      refreshed = true;
      await discard(response);
      token = await untilAborted(tokens.accessToken(key, { rejected: token }), caller);
    } else if (response.status === 429) {
      const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
      await discard(response);
      const wait = Math.max(MIN_RATE_LIMIT_WAIT, retryAfter * 1000);
      if (waited + wait > maxWait) {
        throw new RateLimitedError(`Samsara's rate limit was hit; retry after ${retryAfter} s.`, { retryAfter });
      }
      await pause(wait, caller);
      waited += wait;
    } else {
      break;
    }
    response = await send(token);
  }
  return response;
}

/** One request, under the caller's signal and a deadline of its own. */
async function attempt(
  url: string,
  init: RequestInit,
  token: string,
  timeout: number,
  caller: AbortSignal | undefined,
): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  if (!headers.has('accept')) headers.set('accept', 'application/json');
  // A caller's signal must not replace the deadline: a signal nobody aborts would let a hung
  // Samsara hold the request forever.
  const deadline = AbortSignal.timeout(timeout);
  const signal = caller ? AbortSignal.any([caller, deadline]) : deadline;
  try {
    return await fetch(url, { ...init, headers, redirect: 'manual', signal });
  } catch (err) {
    // The caller's own abort is theirs to recognize (an AbortError, or whatever reason they gave),
    // not an outage to report as a 502.
    if (caller?.aborted) throw caller.reason;
    throw networkFailure(err, deadline.aborted, "Samsara's API", timeout);
  }
}

/**
 * Whether `fetch` can send this body again: it re-reads strings, buffers, Blobs, FormData and
 * URLSearchParams on every call. Streams and async iterables are consumed by the first send, and
 * so is anything not known here (a conservative default: a body we cannot resend is never resent).
 */
function replayable(body: RequestInit['body']): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    ArrayBuffer.isView(body) ||
    body instanceof ArrayBuffer ||
    body instanceof Blob ||
    body instanceof FormData ||
    body instanceof URLSearchParams
  );
}

/**
 * The absolute URL of `path`, checked to lie under the base URL. The check runs on the parsed
 * URL, so neither `..` segments, nor a different spelling of the host, nor credentials in the
 * URL get a token sent elsewhere.
 */
function apiURL(endpoints: SamsaraEndpoints, path: string): string {
  const base = new URL(endpoints.baseURL);
  const target = new URL(/^https?:\/\//i.test(path) ? path : endpoints.apiURL(path));
  const root = base.pathname.replace(/\/+$/, '');
  const inside =
    target.origin === base.origin &&
    target.username === '' &&
    target.password === '' &&
    (target.pathname === root || target.pathname.startsWith(`${root}/`));
  if (!inside) {
    throw new TypeError(
      `This only calls Samsara's API (${endpoints.baseURL}): the URL points elsewhere, and the access token must not go there.`,
    );
  }
  return target.href;
}

/** Lets go of a response we will not hand back, so its connection returns to the pool. */
async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (err) {
    throw signal?.aborted ? signal.reason : err;
  }
}

/**
 * `promise`, unless `signal` aborts first: then its reason. The promise itself goes on (a refresh
 * other callers share must not die with one caller), and its outcome is then nobody's concern.
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    // The caller's own reason, whatever it is: theirs to recognize.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    const onAbort = (): void => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
