import {
  DEFAULT_MAX_RATE_LIMIT_WAIT,
  sendToSamsara,
  type ApiAttempt,
  type ApiClient,
  type ApiGrant,
  type CallSamsaraOptions,
  type SamsaraApiTokens,
} from './api.js';
import { headersOf } from './errors/http-face.js';
import { SamsaraError } from './errors/index.js';
import { numberOption } from './number-option.js';

// The plug-in for Samsara's official SDK (@samsarahq/samsara), which this package does not depend
// on: the options `new SamsaraClient(...)` takes, made of this package's parts. The SDK calls the
// token supplier before every request and every page, outside its error handling, so an error
// thrown there reaches the caller as it is. Errors thrown inside its `fetch` reach the caller only
// as a code-less SamsaraError: so the fetch answers instead, with a response the SDK understands
// (401, 429, 503...), and keeps this package's error where samsaraErrorOf finds it.

/**
 * What `new SamsaraClient(...)` of `@samsarahq/samsara` takes from {@link TokenManager.forOrg}:
 * the organization's region's base URL, a token supplier, and a `fetch`. The fetch sends only
 * under that base URL, replays a 401 once after a forced refresh, and waits out 429s for their
 * fractional `Retry-After` within `maxRateLimitWait` (default 5 s). It answers rather than throws:
 * a failure of its own (a grant found dead during the call, a store that is down, a rate limit
 * past the bound) becomes a response the SDK understands (401, 503, 429, with `Retry-After`
 * rounded up so that the SDK's own retry never comes early), and {@link samsaraErrorOf} finds
 * this package's error behind the one the SDK then throws.
 *
 * @example
 * ```ts
 * import { SamsaraClient } from '@samsarahq/samsara';
 * const options: SamsaraClientOptions = tokens.forOrg(orgId);
 * const client = new SamsaraClient(options);
 * ```
 */
export interface SamsaraClientOptions {
  /** The organization's region's base URL (read when the SDK sends, after the token supplier). */
  baseUrl: () => Promise<string>;
  /** A fresh access token before every request and page; throws this package's errors as they are. */
  token: () => Promise<string>;
  /** Sends only under the base URL, and answers rather than throws (see {@link TokenManager.forOrg}). */
  fetch: typeof fetch;
}

/**
 * Options of {@link TokenManager.forOrg}.
 *
 * @example
 * ```ts
 * new SamsaraClient(tokens.forOrg(orgId, { maxRateLimitWait: 30_000 }));
 * ```
 */
export type ForOrgOptions = CallSamsaraOptions;

/** Errors behind the responses the fetch made up, by their headers (which the SDK keeps). */
const answered = new WeakMap<Headers, SamsaraError>();

/** The SDK options for organization `key`; see {@link TokenManager.forOrg}. */
export function samsaraClientOptions(
  tokens: SamsaraApiTokens,
  key: string,
  options: ForOrgOptions = {},
): SamsaraClientOptions {
  // Checked now: inside the fetch, a bad option would become a 500 that the SDK retries.
  const maxRateLimitWait = numberOption(
    'forOrg',
    'maxRateLimitWait',
    options.maxRateLimitWait,
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    { min: 0 },
  );
  // The organization's client (its region), as the last token read found it. The SDK asks for the
  // token before the base URL and the fetch of each request, so one read serves all three.
  let client: ApiClient | undefined;
  const read = async (rejected?: string): Promise<ApiAttempt> => {
    const creds = await tokens.credentials(key, rejected === undefined ? {} : { rejected });
    client = tokens.clientFor(creds);
    return { accessToken: creds.accessToken, client };
  };
  return {
    token: async () => (await read()).accessToken,
    baseUrl: async () => (client ?? (await read()).client).endpoints.baseURL,
    fetch: async (input, given = {}) => {
      // The SDK passes a URL and init; a Request (anyone else's call) is taken apart the same way.
      const request = input instanceof Request ? input : undefined;
      const init: RequestInit = request ? { ...requestInit(request), ...given } : given;
      const headers = new Headers(init.headers);
      // The token the supplier just gave the SDK: sent as it is, so one store read serves a request.
      const supplied = /^Bearer (\S+)$/.exec(headers.get('authorization') ?? '')?.[1];
      headers.delete('authorization');
      const grant: ApiGrant = {
        orgId: key,
        token: () => (supplied !== undefined && client ? Promise.resolve({ accessToken: supplied, client }) : read()),
        refreshed: (rejected) => read(rejected),
        limiter: tokens.rateLimiter,
      };
      return answer(grant, input instanceof Request ? input.url : input, { ...init, headers }, { maxRateLimitWait });
    },
  };
}

/**
 * This package's error behind an error the SDK threw: the error itself when it is one (thrown by
 * the token supplier), the error a `forOrg` fetch answered for (a grant found dead in the middle of
 * a call, a store that is down), or one on the `cause` chain. Undefined otherwise.
 *
 * @param err - whatever a call through the SDK threw.
 * @returns the package's error behind it, or undefined for an error of the SDK's own.
 *
 * @example
 * ```ts
 * try {
 *   await client.vehicles.list();
 * } catch (err) {
 *   const reason = samsaraErrorOf(err);
 *   if (reason instanceof ReauthorizationRequiredError) await markDisconnected(reason.key);
 *   else throw err;
 * }
 * ```
 */
export function samsaraErrorOf(err: unknown): SamsaraError | undefined {
  const seen = new Set<unknown>();
  let current = err;
  while (typeof current === 'object' && current !== null && !seen.has(current)) {
    seen.add(current);
    if (current instanceof SamsaraError) return current;
    const headers = (current as { rawResponse?: { headers?: unknown } }).rawResponse?.headers;
    const found = headers instanceof Headers ? answered.get(headers) : undefined;
    if (found) return found;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function requestInit(request: Request): RequestInit {
  const init: RequestInit = { method: request.method, headers: request.headers, signal: request.signal };
  // A Request's body is a stream: sent once, never replayed.
  return request.body ? { ...init, body: request.body, duplex: 'half' } : init;
}

async function answer(
  grant: ApiGrant,
  input: string | URL,
  init: RequestInit,
  options: CallSamsaraOptions,
): Promise<Response> {
  try {
    return await sendToSamsara(grant, input, init, options);
  } catch (err) {
    // The SDK tells its own abort from its timeout by its signal and the error's name.
    if (init.signal?.aborted) throw new DOMException('The request was aborted.', 'AbortError');
    if (err instanceof SamsaraError) return errorResponse(err);
    // A URL outside the base URL (a TypeError): nothing was sent, and nothing will be.
    throw err;
  }
}

/**
 * A response in Samsara's error shape (`{ message }`, plus this package's `code`) for a failure
 * that never got one from Samsara. A 429 or 503 carries `Retry-After` rounded up to whole
 * seconds: the SDK reads it with `parseInt` and would otherwise retry early.
 */
function errorResponse(err: SamsaraError): Response {
  const headers = new Headers({ 'content-type': 'application/json', ...headersOf(err) });
  const response = new Response(JSON.stringify({ message: err.message, code: err.code }), {
    status: err.status,
    headers,
  });
  answered.set(response.headers, err);
  return response;
}
