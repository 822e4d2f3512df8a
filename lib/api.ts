import { setTimeout as sleep } from 'node:timers/promises';
import { apiURL, replayable } from './api-url.js';
import type { SamsaraEndpoints, SamsaraRegion } from './endpoints.js';
import { RateLimitedError } from './errors/index.js';
import { publish, type RateLimitEvent } from './events.js';
import { networkFailure } from './http.js';
import { numberOption } from './number-option.js';
import { parseRetryAfter } from './retry-after.js';
import type { FleetRateLimiter } from './rate-limit/fleet.js';

// Every call to Samsara's API goes through sendToSamsara: req.samsara.fetch, the sign-in's
// GET /me, and the fetch handed to the official SDK. One place guards the base URL, bounds each
// attempt, replays a 401 after a refresh and waits out 429s.

/** Where a call goes: what the API needs of an `OAuthClient`. */
export interface ApiClient {
  readonly endpoints: SamsaraEndpoints;
  readonly timeout: number;
  readonly region: SamsaraRegion;
}

/** A token to send, and the client (region) it belongs to. */
export interface ApiAttempt {
  accessToken: string;
  client: ApiClient;
}

/** Whose token a call carries: an organization's grant (refreshed after a 401), or a bare token. */
export interface ApiGrant {
  /** For events; empty for a bare token (a sign-in's, before the organization is known). */
  readonly orgId: string;
  token(): Promise<ApiAttempt>;
  /** A newer token after the API answered 401 to `rejected`; undefined when none can be had. */
  refreshed(rejected: string): Promise<ApiAttempt> | undefined;
  /** The fleet-wide limiter the organization's calls go through; none for a bare token. */
  readonly limiter?: FleetRateLimiter | undefined;
}

/** What the API layer reads of an organization's credentials: the token, and who issued it. */
export interface ApiCredentials {
  readonly accessToken: string;
  readonly region?: SamsaraRegion | undefined;
  readonly clientID?: string | undefined;
}

/**
 * What {@link callSamsara} needs of a `TokenManager` (which is one): the organization's
 * credentials (forcing a refresh for a token the API rejected) and the client of the region that
 * issued them. The API layer knows the manager through this interface only.
 */
export interface SamsaraApiTokens {
  credentials(key: string, options?: { rejected?: string }): Promise<ApiCredentials>;
  /** The fleet-wide limiter the organization's calls go through; none when it is off. */
  readonly rateLimiter?: FleetRateLimiter | undefined;
  clientFor(issuer: ApiCredentials): ApiClient;
}

/**
 * Options of one call to Samsara's API (`req.samsara.fetch`, {@link TokenManager.forOrg}).
 *
 * @inline
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

/** The grant of organization `key`, as `tokens` keeps it, routed to its own region. */
export function grantOf(tokens: SamsaraApiTokens, key: string): ApiGrant {
  const attempt = async (rejected?: string): Promise<ApiAttempt> => {
    const creds = await tokens.credentials(key, rejected === undefined ? {} : { rejected });
    return { accessToken: creds.accessToken, client: tokens.clientFor(creds) };
  };
  return {
    orgId: key,
    token: () => attempt(),
    refreshed: (rejected) => attempt(rejected),
    limiter: tokens.rateLimiter,
  };
}

/** A token as it is, with nothing to refresh it: a 401 comes back as it is. */
export function bareToken(client: ApiClient, accessToken: string): ApiGrant {
  return { orgId: '', token: async () => ({ accessToken, client }), refreshed: () => undefined };
}

/**
 * One call to Samsara's API for the organization `key`, with its Bearer token, at its region's
 * base URL. See {@link sendToSamsara}.
 *
 * @example
 * ```ts
 * const response = await callSamsara(tokens, '1001', '/fleet/vehicles?limit=100', { signal }, { maxRateLimitWait: 2_000 });
 * const { data } = await response.json();
 * ```
 */
export function callSamsara(
  tokens: SamsaraApiTokens,
  key: string,
  path: string,
  init: RequestInit = {},
  options: CallSamsaraOptions = {},
): Promise<Response> {
  return sendToSamsara(grantOf(tokens, key), path, init, options);
}

/**
 * One call to Samsara's API with `grant`'s token.
 *
 * - `path` is relative to the API base URL; an absolute URL must lie under it, or the call throws
 *   `TypeError` before anything is sent: the token must never leave for another host. Redirects
 *   are not followed (`redirect: 'manual'`) for the same reason.
 * - Each attempt has the client's `timeout` (`UpstreamError` `SAMSARA_TIMEOUT`, 504), which keeps
 *   running while the body is read; a network failure is `UpstreamError` `SAMSARA_UNREACHABLE` (502).
 * - `init.signal` aborts the call at any point (sending, waiting out a 429, waiting for a refresh)
 *   and the call then rejects with the signal's own `reason`, as `fetch` does.
 * - A 401 refreshes the token once (the store may already hold a newer one) and sends again; a
 *   429 waits its `Retry-After` (fractional seconds, at least 50 ms each time) while the total
 *   stays within `maxRateLimitWait`, then throws `RateLimitedError`. Both resend the body, so
 *   neither happens for a one-shot body (a `ReadableStream` or an async iterable).
 */
export async function sendToSamsara(
  grant: ApiGrant,
  path: string | URL,
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
  const caller = init.signal ?? undefined;
  caller?.throwIfAborted();
  const first = await untilAborted(grant.token(), caller);
  const { client } = first;
  let token = first.accessToken;
  const url = apiURL(client.endpoints, path);
  const send = (bearer: string): Promise<Response> => attempt(url, init, bearer, client.timeout, caller);
  const replay = replayable(init.body);

  let waited = 0;
  const event = (outcome: RateLimitEvent['outcome'], durationMs: number, retryAfter: number): void =>
    publish('rateLimit', () => ({ orgId: grant.orgId, outcome, durationMs, retryAfter, region: client.region }));
  const limited = (retryAfter: number): RateLimitedError =>
    new RateLimitedError(`Samsara's rate limit was hit; retry after ${retryAfter} s.`, { retryAfter });
  const method = init.method ?? 'GET';
  const { pathname } = new URL(url);
  const limiter = grant.orgId === '' ? undefined : grant.limiter;
  // The fleet's turn for this request: a wait past the bound reserves nothing, and fails now.
  // After a 429, the wait it asked for was announced already (`waiting`): no `paced` event for it.
  const paced = async (announced = false): Promise<void> => {
    // A limiter that cannot answer (Redis down) lets the request go: Samsara's own 429s still hold.
    if (!limiter) return;
    const turn = await limiter.reserve(grant.orgId, method, pathname, maxWait - waited).catch(() => undefined);
    if (!turn) return;
    const { granted, waitMs } = turn;
    if (!granted) {
      event('gave-up', waited, waitMs / 1000);
      throw limited(Math.ceil(waitMs) / 1000);
    }
    if (waitMs <= 0) return;
    if (!announced) event('paced', waitMs, 0);
    const turnAt = performance.now() + waitMs;
    await pause(waitMs, caller);
    waited += waitMs;
    // Woken later than the spacing absorbs (a stalled event loop, a starved process), it would
    // arrive among the requests whose turns came after its own: it takes a new turn instead.
    const { slackMs } = limiter.limits;
    if (slackMs > 0 && performance.now() - turnAt > slackMs) await paced(true);
  };

  await paced();
  let response = await send(token);
  let refreshed = false;
  while (replay) {
    let after429 = false;
    let turnLeft = false;
    if (response.status === 401 && !refreshed) {
      refreshed = true;
      // Samsara refuses a bad token before it counts the request: the turn taken is still there.
      turnLeft = true;
      const next = grant.refreshed(token);
      if (!next) break;
      await discard(response);
      token = (await untilAborted(next, caller)).accessToken;
    } else if (response.status === 429) {
      const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
      await discard(response);
      const wait = Math.max(MIN_RATE_LIMIT_WAIT, retryAfter * 1000);
      if (limiter) {
        // Everyone's buckets wait it out, not just this call's: the next turn comes after it.
        event('waiting', wait, retryAfter);
        after429 = true;
        await limiter.slowDown(grant.orgId, method, pathname, wait).catch(() => undefined);
      } else {
        if (waited + wait > maxWait) {
          event('gave-up', waited, retryAfter);
          throw limited(retryAfter);
        }
        event('waiting', wait, retryAfter);
        await pause(wait, caller);
        waited += wait;
      }
    } else {
      break;
    }
    if (!turnLeft) await paced(after429);
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
