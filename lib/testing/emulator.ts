import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { vehiclesOf, type EmulatedVehicle } from './fleet.js';

// Written from SAMSARA.md and RFC 6749 / 7009 / 7636, never from this package's client: it plays the
// server, so it must not share the client's bugs. Where Samsara's behaviour is not confirmed, the
// emulator takes the strict reading (single-use refresh tokens, Basic auth only) and makes the
// lenient one an option.

/**
 * The emulator's default client id: a public test value.
 *
 * @example
 * ```ts
 * new SamsaraStrategy({ clientID: EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET, baseURL: samsara.url });
 * ```
 */
export const EMULATOR_CLIENT_ID = 'samsara-emulator-client';

/**
 * The emulator's default client secret: a public test value, fine to print and to commit.
 *
 * @example
 * ```ts
 * const basic = Buffer.from(`${EMULATOR_CLIENT_ID}:${EMULATOR_CLIENT_SECRET}`).toString('base64');
 * ```
 */
export const EMULATOR_CLIENT_SECRET = 'samsara-emulator-secret';

/**
 * An OAuth client (a Marketplace app) the emulator knows.
 *
 * @example
 * ```ts
 * await startSamsaraEmulator({
 *   clients: [{ clientId: 'my-app', clientSecret: 's3cret', redirectUris: ['http://localhost:3000/auth/samsara/callback'] }],
 * });
 * ```
 */
export interface EmulatorClient {
  clientId: string;
  clientSecret: string;
  /**
   * Registered redirect URLs, matched exactly. Omitted: any `http` URL on a loopback host
   * (127.0.0.0/8, `localhost`, `[::1]`), so tests on random ports need no registration.
   */
  redirectUris?: string[];
}

/**
 * An organization that can authorize apps; `GET /me` returns it.
 *
 * @example
 * ```ts
 * await startSamsaraEmulator({
 *   organizations: [
 *     { id: '1001', name: "Charlie's Dining Services", vehicleCount: 3 },
 *     { id: '2002', name: 'Acme Freight', vehicleCount: 0 },
 *   ],
 * });
 * ```
 */
export interface EmulatorOrganization {
  id: string;
  name: string;
  carrierSettings?: { carrierName: string; dotNumber: number; mainOfficeAddress: string };
  /** How many vehicles `GET /fleet/vehicles` lists. Default 1200. */
  vehicleCount?: number;
}

/**
 * Which endpoint a fault applies to. `api` covers `GET /me` and `/fleet/*`.
 *
 * @example
 * ```ts
 * const endpoint: EmulatorEndpoint = 'token';
 * samsara.injectFault(endpoint, { type: 'drop' });
 * ```
 */
export type EmulatorEndpoint = 'authorize' | 'token' | 'revoke' | 'api';

/**
 * A misbehaviour for the next request(s) of an endpoint. The request is still counted.
 *
 * - `status`: answer this instead of processing.
 * - `hang`: never answer (until `stop()`).
 * - `drop`: destroy the socket without processing.
 * - `drop-after-grant`: process the request fully (a code is consumed, a refresh token rotated, a
 *   grant revoked), then destroy the socket without answering. Meant for the token endpoint, where
 *   it is the nastiest failure there is: the client saw an error, yet its refresh token is gone.
 * - `delay`: process normally after `ms` milliseconds.
 *
 * @example
 * ```ts
 * const fault: EmulatorFault = { type: 'status', status: 503, body: 'no healthy upstream', contentType: 'text/plain' };
 * samsara.injectFault('token', fault, 2);
 * ```
 */
export type EmulatorFault =
  | { type: 'status'; status: number; body?: string; contentType?: string; headers?: Record<string, string> }
  | { type: 'hang' }
  | { type: 'drop' }
  | { type: 'drop-after-grant' }
  | { type: 'delay'; ms: number };

/**
 * Options of {@link startSamsaraEmulator}; those {@link SamsaraEmulator.configure} takes can change
 * while it runs.
 *
 * @example
 * ```ts
 * let now = Date.now();
 * const samsara = await startSamsaraEmulator({ autoApprove: true, accessTokenTtl: 60, clock: () => now });
 * now += 61_000; // every access token issued so far has expired
 * ```
 */
export interface EmulatorOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Default: one client, {@link EMULATOR_CLIENT_ID} / {@link EMULATOR_CLIENT_SECRET}, any loopback redirect URL. */
  clients?: EmulatorClient[];
  /** Default: organization `1001`, "Charlie's Dining Services", 1200 vehicles. */
  organizations?: EmulatorOrganization[];
  /**
   * Skip the consent page: `true` approves at once for the first organization, a string for the
   * organization with that id. Default `false`: the consent page, with Allow and Deny.
   */
  autoApprove?: boolean | string;
  /** `expires_in` of access tokens, in whole seconds. Default 3600. */
  accessTokenTtl?: number;
  /** Lifetime of authorization codes, in seconds. Default 600. */
  codeTtl?: number;
  /** Milliseconds a rotated-out refresh token keeps working. Default 0: strictly single use. */
  refreshTokenReuseGrace?: number;
  /**
   * Reuse detection (OAuth 2.0 Security BCP §4.14.2): a rotated-out refresh token presented again
   * (past the grace) revokes its whole grant. Samsara documents neither way. Default false.
   */
  revokeOnReuse?: boolean;
  /** Milliseconds added before every response. Default 0. */
  latency?: number;
  /** API requests per second per access token before 429 (a sliding 1 s window). Default 150, Samsara's limit. */
  rateLimit?: number;
  /** Milliseconds since the epoch; every expiry and the rate limit read it. Default `Date.now`. */
  clock?: () => number;
}

/**
 * What the emulator has seen since it started or since {@link SamsaraEmulator.resetCounters}.
 * Requests that meet a fault count as requests, never as outcomes (`invalidGrant`, `unauthorized`...).
 *
 * @example
 * ```ts
 * expect(samsara.counters.grants.refresh_token).to.equal(1); // one refresh across the whole fleet
 * expect(samsara.counters.invalidGrant).to.equal(0);
 * ```
 */
export interface EmulatorCounters {
  /** Every POST /oauth2/token. */
  tokenRequests: number;
  /** Token requests by `grant_type`, counted on receipt, before any validation. */
  grants: { authorization_code: number; refresh_token: number };
  /** Successful token responses (a `drop-after-grant` counts: the tokens were issued). */
  tokensIssued: number;
  invalidGrant: number;
  invalidClient: number;
  invalidRequest: number;
  /** POST /oauth2/revoke received. */
  revocations: number;
  /** Requests to /me and /fleet/*, whatever the outcome. */
  apiCalls: number;
  /** API 401s. */
  unauthorized: number;
  /** API 429s. */
  rateLimited: number;
}

/**
 * A grant made by {@link SamsaraEmulator.issueGrant}, as if the organization had authorized.
 *
 * @example
 * ```ts
 * // An organization that signed in earlier, without driving a browser through the consent page:
 * const { accessToken, refreshToken, expiresIn, scope } = samsara.issueGrant('1001');
 * await tokenStore.replace('1001', { accessToken, refreshToken, expiresAt: Date.now() + expiresIn * 1000, scope });
 * ```
 */
export interface IssuedGrant {
  accessToken: string;
  refreshToken: string;
  /** Seconds. */
  expiresIn: number;
  scope: string;
  orgId: string;
}

/**
 * A running emulator, from {@link startSamsaraEmulator}.
 *
 * @example
 * ```ts
 * const samsara = await startSamsaraEmulator({ autoApprove: true });
 * new SamsaraStrategy({ clientID: samsara.clientId, clientSecret: samsara.clientSecret, baseURL: samsara.url });
 * // ... drive the app ...
 * expect(samsara.counters.grants.authorization_code).to.equal(1);
 * await samsara.stop();
 * ```
 */
export interface SamsaraEmulator {
  /** `http://127.0.0.1:PORT`, no trailing slash: the base URL for the strategy and the API. */
  readonly url: string;
  /** The first client's id. */
  readonly clientId: string;
  /** The first client's secret. */
  readonly clientSecret: string;
  /** Live: read it after the requests of interest. */
  readonly counters: EmulatorCounters;
  resetCounters(): void;
  /** The next `times` (default 1) requests to `endpoint` misbehave; faults queue first in, first out. */
  injectFault(endpoint: EmulatorEndpoint, fault: EmulatorFault, times?: number): void;
  clearFaults(): void;
  /** Changes settings from the next request on. Throws a RangeError on a value it cannot use. */
  configure(
    changes: Partial<
      Pick<EmulatorOptions, 'accessTokenTtl' | 'refreshTokenReuseGrace' | 'revokeOnReuse' | 'latency' | 'rateLimit' | 'autoApprove'>
    >,
  ): void;
  /** A grant as if the organization (default: the first) had authorized the client (default: the first). Counts nothing. */
  issueGrant(orgId?: string, clientId?: string): IssuedGrant;
  /** Every live access token (of that organization) expires now. */
  expireAccessTokens(orgId?: string): void;
  /** `rotated`: the token was used and replaced; `revoked` wins over `rotated`. */
  grantStatus(refreshToken: string): 'active' | 'rotated' | 'revoked' | 'unknown';
  /** Grants (of that organization) not revoked. */
  activeGrants(orgId?: string): number;
  /** Closes the server and destroys every socket, hanging and keep-alive ones included. Idempotent. */
  stop(): Promise<void>;
}

interface Grant {
  clientId: string;
  orgId: string;
  revoked: boolean;
}
interface CodeRecord {
  clientId: string;
  orgId: string;
  /** The redirect_uri the authorize request carried; undefined when it had none. */
  redirectUri: string | undefined;
  challenge: string | undefined;
  challengeMethod: 'S256' | 'plain';
  expiresAt: number;
  /** Set once the code is exchanged: a replay revokes it. */
  grant: Grant | undefined;
}
interface RefreshRecord {
  grant: Grant;
  rotatedAt: number | undefined;
}
interface AccessRecord {
  grant: Grant;
  expiresAt: number;
}
interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The RFC 6749 error code of an OAuth error reply, for the counters. */
  oauthError?: string;
}
type Settings = Required<Pick<EmulatorOptions, 'accessTokenTtl' | 'refreshTokenReuseGrace' | 'revokeOnReuse' | 'latency' | 'rateLimit' | 'autoApprove'>>;

/** Thrown deep inside a handler to answer at once. */
class Refusal extends Error {
  constructor(readonly reply: Reply) {
    super(`HTTP ${reply.status}`);
  }
}

const SCOPE = 'read_org read_vehicles';
const MAX_BODY = 16 * 1024;
const MAX_PAGE = 512;
const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };
const BASIC_CHALLENGE = { 'www-authenticate': 'Basic realm="samsara"' };
const DEFAULT_ORG: EmulatorOrganization = {
  id: '1001',
  name: "Charlie's Dining Services",
  carrierSettings: {
    carrierName: "Charlie's Dining Services",
    dotNumber: 98231,
    mainOfficeAddress: '1990 Alameda St, San Francisco, CA 94103',
  },
};
/** RFC 7636 §4.1: the verifier's (and an S256 challenge's) alphabet and length. */
const PKCE_VALUE = /^[A-Za-z0-9\-._~]{43,128}$/;

/**
 * Starts a local Samsara on a free loopback port: the OAuth 2.0 authorize endpoint (a consent page,
 * or `autoApprove`), token endpoint (HTTP Basic client auth, single-use codes bound to their
 * redirect URI and PKCE challenge, rotating single-use refresh tokens), RFC 7009 revocation,
 * `GET /me` and a paginated `GET /fleet/vehicles` with Samsara's error shape and rate limit, plus
 * faults, latency and counters for tests and benchmarks.
 *
 * @example
 * ```ts
 * import { startSamsaraEmulator } from 'passport-samsara/testing';
 *
 * const samsara = await startSamsaraEmulator({ autoApprove: true, accessTokenTtl: 60 });
 * process.env.SAMSARA_BASE_URL = samsara.url;
 * process.env.SAMSARA_CLIENT_ID = samsara.clientId;
 * process.env.SAMSARA_CLIENT_SECRET = samsara.clientSecret;
 * // ... run the app against it, then:
 * await samsara.stop();
 * ```
 */
export async function startSamsaraEmulator(options: EmulatorOptions = {}): Promise<SamsaraEmulator> {
  const clients = indexById(options.clients ?? [{ clientId: EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET }], (c) => c.clientId, 'client');
  const orgs = indexById(options.organizations ?? [DEFAULT_ORG], (o) => o.id, 'organization');
  const firstClient = [...clients.values()][0];
  const firstOrg = [...orgs.values()][0];
  const codeTtl = options.codeTtl ?? 600;
  if (!(codeTtl > 0)) throw new RangeError(`codeTtl must be a positive number of seconds, not ${codeTtl}.`);
  for (const org of orgs.values()) {
    if (org.vehicleCount !== undefined && !(Number.isInteger(org.vehicleCount) && org.vehicleCount >= 0)) {
      throw new RangeError(`vehicleCount of organization ${org.id} must be a whole number, not ${org.vehicleCount}.`);
    }
  }
  const settings: Settings = {
    accessTokenTtl: 3600,
    refreshTokenReuseGrace: 0,
    revokeOnReuse: false,
    latency: 0,
    rateLimit: 150,
    autoApprove: false,
  };
  applySettings(options);
  const clock = options.clock ?? Date.now;

  const codes = new Map<string, CodeRecord>();
  const refreshTokens = new Map<string, RefreshRecord>();
  const accessTokens = new Map<string, AccessRecord>();
  const grants = new Set<Grant>();
  const requestTimes = new Map<string, number[]>();
  const fleets = new Map<string, EmulatedVehicle[]>();
  const faults: Record<EmulatorEndpoint, EmulatorFault[]> = { authorize: [], token: [], revoke: [], api: [] };
  const counters = zeroCounters();
  // Cursors are MACed with a per-instance key, so a forged, foreign or stale cursor is a 400, as an
  // unknown one is on Samsara, instead of silently paging from somewhere.
  const cursorKey = randomBytes(32);
  // stop() aborts pending latency and delay timers: they must neither keep the process alive nor
  // process a request after the emulator is gone.
  const stopping = new AbortController();

  function applySettings(changes: Partial<Settings>): void {
    const checks: Array<[keyof Settings, (v: number) => boolean, string]> = [
      ['accessTokenTtl', (v) => Number.isInteger(v) && v > 0, 'a positive whole number of seconds'],
      ['refreshTokenReuseGrace', (v) => v >= 0, 'a number of milliseconds >= 0'],
      ['latency', (v) => v >= 0, 'a number of milliseconds >= 0'],
      ['rateLimit', (v) => v >= 1, 'a number of requests >= 1'],
    ];
    for (const [name, valid, what] of checks) {
      const value = changes[name];
      if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && valid(value))) {
        throw new RangeError(`${name} must be ${what}, not ${String(value)}.`);
      }
    }
    if (typeof changes.autoApprove === 'string' && !orgs.has(changes.autoApprove)) {
      throw new RangeError(`autoApprove names organization ${changes.autoApprove}, which the emulator does not have.`);
    }
    for (const name of Object.keys(settings) as Array<keyof Settings>) {
      if (changes[name] !== undefined) Object.assign(settings, { [name]: changes[name] });
    }
  }

  // ---- grants and tokens ---------------------------------------------------------------------

  function newGrant(clientId: string, orgId: string): Grant {
    const grant = { clientId, orgId, revoked: false };
    grants.add(grant);
    return grant;
  }

  function issueTokens(grant: Grant): IssuedGrant {
    const accessToken = randomToken();
    const refreshToken = randomToken();
    accessTokens.set(accessToken, { grant, expiresAt: clock() + settings.accessTokenTtl * 1000 });
    refreshTokens.set(refreshToken, { grant, rotatedAt: undefined });
    return { accessToken, refreshToken, expiresIn: settings.accessTokenTtl, scope: SCOPE, orgId: grant.orgId };
  }

  function tokenReply(issued: IssuedGrant): Reply {
    counters.tokensIssued++;
    return json(
      200,
      {
        access_token: issued.accessToken,
        token_type: 'Bearer',
        expires_in: issued.expiresIn,
        refresh_token: issued.refreshToken,
        scope: issued.scope,
      },
      NO_STORE,
    );
  }

  // ---- GET/POST /oauth2/authorize ----------------------------------------------------------------

  function authorize(method: string | undefined, params: URLSearchParams): Reply {
    if (method !== 'GET' && method !== 'POST') throw new Refusal(htmlError(405, 'Use GET or POST.', { allow: 'GET, POST' }));
    // Until client and redirect URI are known good, every failure is a page here, never a
    // redirect: an authorize endpoint that redirects anywhere it is told is an open redirect.
    for (const name of ['client_id', 'redirect_uri']) {
      if (params.getAll(name).length > 1) throw new Refusal(htmlError(400, `${name} is repeated.`));
    }
    const client = clients.get(params.get('client_id') ?? '');
    if (!client) throw new Refusal(htmlError(400, 'Unknown client_id: no app with this id is registered.'));
    const redirectUri = redirectTarget(client, params.get('redirect_uri'));
    const state = params.get('state');
    const back = (result: Record<string, string>): Reply => redirect(redirectUri, state === null ? result : { ...result, state });

    const repeated = firstRepeated(params);
    if (repeated) return back({ error: 'invalid_request', error_description: `${repeated} is repeated.` });
    const responseType = params.get('response_type');
    if (responseType === null) return back({ error: 'invalid_request', error_description: 'response_type is required.' });
    if (responseType !== 'code') return back({ error: 'unsupported_response_type', error_description: 'Only response_type=code is supported.' });
    const challenge = params.get('code_challenge');
    const challengeMethod = params.get('code_challenge_method') ?? 'plain';
    if (challenge !== null && (challengeMethod !== 'S256' && challengeMethod !== 'plain')) {
      return back({ error: 'invalid_request', error_description: 'code_challenge_method must be S256 or plain.' });
    }
    if (challenge !== null && !PKCE_VALUE.test(challenge)) {
      return back({ error: 'invalid_request', error_description: 'code_challenge must be 43 to 128 unreserved characters.' });
    }

    if (method === 'POST') {
      if (params.get('decision') !== 'allow') return back({ error: 'access_denied', error_description: 'The user denied access' });
      return back({ code: newCode(client, params, params.get('org_id') ?? firstOrg.id) });
    }
    if (settings.autoApprove !== false) {
      return back({ code: newCode(client, params, settings.autoApprove === true ? firstOrg.id : settings.autoApprove) });
    }
    return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8', ...NO_STORE }, body: consentPage(params, client, [...orgs.values()]) };
  }

  function redirectTarget(client: EmulatorClient, given: string | null): string {
    if (given === null) {
      if (client.redirectUris?.length === 1) return client.redirectUris[0];
      throw new Refusal(htmlError(400, 'redirect_uri is missing, and the app does not have exactly one registered redirect URL.'));
    }
    const allowed = client.redirectUris ? client.redirectUris.includes(given) : isLoopbackHttpURL(given);
    if (!allowed) throw new Refusal(htmlError(400, 'redirect_uri is not registered for this app.'));
    return given;
  }

  function newCode(client: EmulatorClient, params: URLSearchParams, orgId: string): string {
    if (!orgs.has(orgId)) throw new Refusal(htmlError(400, 'Unknown organization.'));
    const code = randomToken();
    const challenge = params.get('code_challenge') ?? undefined;
    codes.set(code, {
      clientId: client.clientId,
      orgId,
      redirectUri: params.get('redirect_uri') ?? undefined,
      challenge,
      challengeMethod: params.get('code_challenge_method') === 'S256' ? 'S256' : 'plain',
      expiresAt: clock() + codeTtl * 1000,
      grant: undefined,
    });
    return code;
  }

  // ---- POST /oauth2/token and /oauth2/revoke ----------------------------------------------------

  /** RFC 6749 §2.3.1: HTTP Basic with the form-urlencoded id and secret, and no other method at once. */
  function authenticate(req: IncomingMessage, form: URLSearchParams): EmulatorClient {
    const credentials = basicCredentials(req.headers.authorization);
    const client = credentials && clients.get(credentials.id);
    if (!credentials || !client || client.clientSecret !== credentials.secret) {
      throw new Refusal(oauthError(401, 'invalid_client', 'Client authentication failed: send the client id and secret with HTTP Basic.', BASIC_CHALLENGE));
    }
    if (form.has('client_secret') || (form.has('client_id') && form.get('client_id') !== client.clientId)) {
      throw new Refusal(oauthError(400, 'invalid_request', 'The request uses more than one client authentication method.'));
    }
    return client;
  }

  /** What the token and revoke endpoints check before reading the form. */
  function oauthPost(req: IncomingMessage, form: URLSearchParams): EmulatorClient {
    if (req.method !== 'POST') throw new Refusal(oauthError(405, 'invalid_request', 'Use POST.', { allow: 'POST' }));
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
      throw new Refusal(oauthError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded.'));
    }
    const client = authenticate(req, form);
    const repeated = firstRepeated(form);
    if (repeated) throw new Refusal(oauthError(400, 'invalid_request', `${repeated} is repeated.`));
    return client;
  }

  function token(req: IncomingMessage, form: URLSearchParams): Reply {
    const client = oauthPost(req, form);
    const grantType = required(form, 'grant_type');
    if (grantType === 'authorization_code') return tokenReply(exchangeCode(client, form));
    if (grantType === 'refresh_token') return tokenReply(refresh(client, form));
    throw new Refusal(oauthError(400, 'unsupported_grant_type', `grant_type ${grantType} is not supported.`));
  }

  function exchangeCode(client: EmulatorClient, form: URLSearchParams): IssuedGrant {
    const record = codes.get(required(form, 'code'));
    if (!record || record.clientId !== client.clientId) throw invalidGrant('The authorization code is unknown or was issued to another client.');
    if (record.grant) {
      // RFC 6749 §4.1.2: a replayed code may have been stolen, so what it produced is revoked too.
      record.grant.revoked = true;
      throw invalidGrant('The authorization code was already used; the grant it produced is revoked.');
    }
    if (clock() >= record.expiresAt) throw invalidGrant('The authorization code has expired.');
    if (record.redirectUri !== undefined && form.get('redirect_uri') !== record.redirectUri) {
      throw invalidGrant('redirect_uri is missing or differs from the one of the authorization request.');
    }
    if (record.challenge !== undefined && !verifierMatches(record, form.get('code_verifier'))) {
      throw invalidGrant('code_verifier is missing or does not match the code_challenge.');
    }
    record.grant = newGrant(client.clientId, record.orgId);
    return issueTokens(record.grant);
  }

  function refresh(client: EmulatorClient, form: URLSearchParams): IssuedGrant {
    const record = refreshTokens.get(required(form, 'refresh_token'));
    if (!record || record.grant.revoked || record.grant.clientId !== client.clientId) {
      throw invalidGrant('The refresh token is unknown, revoked, or was issued to another client.');
    }
    // Strictly less than the grace: with the default 0, a second use fails even within the same millisecond.
    if (record.rotatedAt !== undefined && !(clock() - record.rotatedAt < settings.refreshTokenReuseGrace)) {
      if (settings.revokeOnReuse) record.grant.revoked = true;
      throw invalidGrant('The refresh token was already used: each refresh token works once.');
    }
    record.rotatedAt ??= clock();
    return issueTokens(record.grant);
  }

  function revoke(req: IncomingMessage, form: URLSearchParams): Reply {
    const client = oauthPost(req, form);
    const presented = required(form, 'token');
    // token_type_hint is only a hint (RFC 7009 §2.1): both kinds are searched anyway.
    const grant = refreshTokens.get(presented)?.grant ?? accessTokens.get(presented)?.grant;
    if (grant && grant.clientId !== client.clientId) throw invalidGrant('The token was issued to another client.');
    if (grant) grant.revoked = true;
    // RFC 7009 §2.2: an unknown or already revoked token is no error.
    return json(200, {}, NO_STORE);
  }

  // ---- GET /me and /fleet/* ---------------------------------------------------------------------

  function api(req: IncomingMessage, url: URL): Reply {
    const path = url.pathname.replace(/\/+$/, '');
    if (path !== '/me' && path !== '/fleet/vehicles') throw new Refusal(apiError(404, `No such endpoint: ${path}.`));
    if (req.method !== 'GET') throw new Refusal(apiError(405, `${req.method ?? 'This method'} is not allowed here.`, { allow: 'GET' }));
    const org = orgs.get(bearerGrant(req).orgId) as EmulatorOrganization;
    if (path === '/me') {
      return json(200, { data: { id: org.id, name: org.name, ...(org.carrierSettings && { carrierSettings: org.carrierSettings }) } });
    }
    return vehicles(url, org);
  }

  function bearerGrant(req: IncomingMessage): Grant {
    const presented = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const record = presented === undefined ? undefined : accessTokens.get(presented);
    if (presented === undefined || !record || record.grant.revoked || clock() >= record.expiresAt) {
      counters.unauthorized++;
      const message = presented === undefined ? 'Missing access token.' : 'Invalid, expired or revoked access token.';
      throw new Refusal(apiError(401, message, { 'www-authenticate': 'Bearer realm="samsara", error="invalid_token"' }));
    }
    throttle(presented);
    return record.grant;
  }

  /** A sliding one-second window per access token; the 429 says when the oldest request leaves it. */
  function throttle(accessToken: string): void {
    const now = clock();
    const recent = (requestTimes.get(accessToken) ?? []).filter((t) => t > now - 1000);
    requestTimes.set(accessToken, recent);
    if (recent.length >= settings.rateLimit) {
      counters.rateLimited++;
      const seconds = Math.max(0.00001, (recent[0] + 1000 - now) / 1000);
      throw new Refusal(apiError(429, 'Rate limit exceeded: too many requests for this access token.', { 'retry-after': seconds.toFixed(5) }));
    }
    recent.push(now);
  }

  function vehicles(url: URL, org: EmulatorOrganization): Reply {
    const limitParam = url.searchParams.get('limit');
    const limit = limitParam === null ? MAX_PAGE : /^\d+$/.test(limitParam) ? Number(limitParam) : NaN;
    if (!(limit >= 1 && limit <= MAX_PAGE)) throw new Refusal(apiError(400, `limit must be a whole number from 1 to ${MAX_PAGE}.`));
    let fleet = fleets.get(org.id);
    if (!fleet) {
      fleet = vehiclesOf(org.id, org.vehicleCount ?? 1200);
      fleets.set(org.id, fleet);
    }
    const after = url.searchParams.get('after');
    const offset = after ? offsetOf(after, org.id, fleet.length) : 0;
    if (offset === undefined) throw new Refusal(apiError(400, 'after is not a cursor this endpoint handed out.'));
    const end = Math.min(offset + limit, fleet.length);
    const hasNextPage = end < fleet.length;
    return json(200, { data: fleet.slice(offset, end), pagination: { endCursor: hasNextPage ? cursorFor(org.id, end) : '', hasNextPage } });
  }

  function cursorMac(orgId: string, offset: number): string {
    return createHmac('sha256', cursorKey).update(`${orgId}:${offset}`).digest('base64url').slice(0, 16);
  }

  function cursorFor(orgId: string, offset: number): string {
    return Buffer.from(`${offset}:${cursorMac(orgId, offset)}`).toString('base64url');
  }

  function offsetOf(cursor: string, orgId: string, size: number): number | undefined {
    if (!/^[\w-]+$/.test(cursor)) return undefined;
    const [digits, mac] = Buffer.from(cursor, 'base64url').toString('latin1').split(':');
    const offset = Number(digits);
    return /^\d+$/.test(digits) && offset < size && mac === cursorMac(orgId, offset) ? offset : undefined;
  }

  // ---- the request pipeline -----------------------------------------------------------------------

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const endpoint = endpointOf(url.pathname);
    if (endpoint === 'token' && req.method === 'POST') counters.tokenRequests++;
    if (endpoint === 'revoke' && req.method === 'POST') counters.revocations++;
    if (endpoint === 'api') counters.apiCalls++;
    const fault = endpoint && faults[endpoint].shift();
    try {
      const body = await readBody(req);
      const form = new URLSearchParams(body ?? '');
      const grantType = endpoint === 'token' ? form.get('grant_type') : null;
      if (grantType === 'authorization_code' || grantType === 'refresh_token') counters.grants[grantType]++;
      await pause(settings.latency);
      if (fault && (await misbehave(req, res, fault))) return;
      const reply = body === undefined ? tooLarge(endpoint) : handle(endpoint, req, url, form);
      if (reply.oauthError === 'invalid_grant') counters.invalidGrant++;
      if (reply.oauthError === 'invalid_client') counters.invalidClient++;
      if (reply.oauthError === 'invalid_request') counters.invalidRequest++;
      if (fault?.type === 'drop-after-grant') {
        req.socket.destroy();
        return;
      }
      send(res, reply);
    } catch (err) {
      if (stopping.signal.aborted) return;
      send(res, json(500, { message: `Emulator bug: ${err instanceof Error ? err.message : String(err)}`, requestId: requestId() }));
    }
  }

  function handle(endpoint: EmulatorEndpoint | undefined, req: IncomingMessage, url: URL, form: URLSearchParams): Reply {
    try {
      if (endpoint === 'authorize') return authorize(req.method, req.method === 'POST' ? form : url.searchParams);
      if (endpoint === 'token') return token(req, form);
      if (endpoint === 'revoke') return revoke(req, form);
      if (endpoint === 'api') return api(req, url);
      throw new Refusal(apiError(404, `No such endpoint: ${url.pathname}.`));
    } catch (err) {
      if (err instanceof Refusal) return err.reply;
      throw err;
    }
  }

  /** Plays a fault; true when it has finished the request (answered, hung up or left hanging). */
  async function misbehave(req: IncomingMessage, res: ServerResponse, fault: EmulatorFault): Promise<boolean> {
    switch (fault.type) {
      case 'status':
        send(res, { status: fault.status, headers: { 'content-type': fault.contentType ?? 'text/plain', ...fault.headers }, body: fault.body ?? '' });
        return true;
      case 'hang':
        return true;
      case 'drop':
        req.socket.destroy();
        return true;
      case 'delay':
        await pause(fault.ms);
        return false;
      case 'drop-after-grant':
        return false;
    }
  }

  async function pause(ms: number): Promise<void> {
    if (ms > 0) await sleep(ms, undefined, { signal: stopping.signal });
  }

  const server = createServer((req, res) => {
    void serve(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let stopped: Promise<void> | undefined;

  return {
    url: `http://${host}:${address.port}`,
    clientId: firstClient.clientId,
    clientSecret: firstClient.clientSecret,
    counters,
    resetCounters() {
      Object.assign(counters, zeroCounters());
    },
    injectFault(endpoint, fault, times = 1) {
      if (!(endpoint in faults)) throw new RangeError(`Unknown endpoint ${String(endpoint)}: use authorize, token, revoke or api.`);
      for (let i = 0; i < times; i++) faults[endpoint].push(fault);
    },
    clearFaults() {
      for (const queue of Object.values(faults)) queue.length = 0;
    },
    configure(changes) {
      applySettings(changes);
    },
    issueGrant(orgId = firstOrg.id, clientId = firstClient.clientId) {
      if (!orgs.has(orgId)) throw new RangeError(`The emulator has no organization ${orgId}.`);
      if (!clients.has(clientId)) throw new RangeError(`The emulator has no client ${clientId}.`);
      return issueTokens(newGrant(clientId, orgId));
    },
    expireAccessTokens(orgId) {
      const now = clock();
      for (const record of accessTokens.values()) {
        if (orgId === undefined || record.grant.orgId === orgId) record.expiresAt = Math.min(record.expiresAt, now);
      }
    },
    grantStatus(refreshToken) {
      const record = refreshTokens.get(refreshToken);
      if (!record) return 'unknown';
      if (record.grant.revoked) return 'revoked';
      return record.rotatedAt === undefined ? 'active' : 'rotated';
    },
    activeGrants(orgId) {
      let active = 0;
      for (const grant of grants) if (!grant.revoked && (orgId === undefined || grant.orgId === orgId)) active++;
      return active;
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        stopping.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

function indexById<T>(items: T[], idOf: (item: T) => string, what: string): Map<string, T> {
  if (items.length === 0) throw new RangeError(`The emulator needs at least one ${what}.`);
  const map = new Map<string, T>();
  for (const item of items) {
    if (map.has(idOf(item))) throw new RangeError(`Two of the emulator's ${what}s have the id ${idOf(item)}.`);
    map.set(idOf(item), item);
  }
  return map;
}

function endpointOf(pathname: string): EmulatorEndpoint | undefined {
  if (pathname === '/oauth2/authorize') return 'authorize';
  if (pathname === '/oauth2/token') return 'token';
  if (pathname === '/oauth2/revoke') return 'revoke';
  if (pathname === '/me' || pathname === '/me/' || pathname.startsWith('/fleet/')) return 'api';
  return undefined;
}

/** The body as text, or undefined past MAX_BODY (then the rest is left unread and the socket closed). */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
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

function send(res: ServerResponse, reply: Reply): void {
  if (res.socket?.destroyed) return;
  res.writeHead(reply.status, reply.headers).end(reply.body);
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(body) };
}

/** RFC 6749 §5.2, never cached. */
function oauthError(status: number, error: string, description: string, headers: Record<string, string> = {}): Reply {
  return { ...json(status, { error, error_description: description }, { ...NO_STORE, ...headers }), oauthError: error };
}

function invalidGrant(description: string): Refusal {
  return new Refusal(oauthError(400, 'invalid_grant', description));
}

/** Samsara's API error shape. */
function apiError(status: number, message: string, headers: Record<string, string> = {}): Reply {
  return json(status, { message, requestId: requestId() }, headers);
}

function htmlError(status: number, message: string, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', ...NO_STORE, ...headers },
    body: `<!doctype html><html><head><meta charset="utf-8"><title>Samsara emulator: error</title></head><body><h1>This request cannot be authorized</h1><p>${escapeHTML(message)}</p></body></html>`,
  };
}

/** 413 in the shape the endpoint speaks; the unread rest of the body makes the connection unusable. */
function tooLarge(endpoint: EmulatorEndpoint | undefined): Reply {
  const message = `The request body is larger than ${MAX_BODY} bytes.`;
  const close = { connection: 'close' };
  if (endpoint === 'token' || endpoint === 'revoke') return oauthError(413, 'invalid_request', message, close);
  return endpoint === 'authorize' ? htmlError(413, message, close) : apiError(413, message, close);
}

function redirect(target: string, params: Record<string, string>): Reply {
  const location = new URL(target);
  for (const [name, value] of Object.entries(params)) location.searchParams.set(name, value);
  return { status: 302, headers: { location: location.href, ...NO_STORE }, body: '' };
}

/** RFC 6749 §3.1: parameters must not be sent twice; the name of the first one that is. */
function firstRepeated(params: URLSearchParams): string | undefined {
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

function required(form: URLSearchParams, name: string): string {
  const value = form.get(name);
  if (!value) throw new Refusal(oauthError(400, 'invalid_request', `${name} is required.`));
  return value;
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const encoded = /^Basic +([A-Za-z0-9+/]+={0,2})$/i.exec(header ?? '')?.[1];
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const id = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  return id === undefined || secret === undefined ? undefined : { id, secret };
}

/** application/x-www-form-urlencoded decoding of one value; undefined when malformed. */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

function verifierMatches(record: CodeRecord, verifier: string | null): boolean {
  if (verifier === null || !PKCE_VALUE.test(verifier)) return false;
  const derived = record.challengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
  return derived === record.challenge;
}

/** RFC 8252 §7.3 loopback redirects: plain http, any port; no fragment (RFC 6749 §3.1.2) and no userinfo. */
function isLoopbackHttpURL(value: string): boolean {
  if (!URL.canParse(value) || value.includes('#')) return false;
  const url = new URL(value);
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  return url.protocol === 'http:' && loopback && url.username === '' && url.password === '';
}

function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

function requestId(): string {
  return randomBytes(8).toString('hex');
}

function zeroCounters(): EmulatorCounters {
  return {
    tokenRequests: 0,
    grants: { authorization_code: 0, refresh_token: 0 },
    tokensIssued: 0,
    invalidGrant: 0,
    invalidClient: 0,
    invalidRequest: 0,
    revocations: 0,
    apiCalls: 0,
    unauthorized: 0,
    rateLimited: 0,
  };
}

function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const AUTHORIZE_PARAMS = ['client_id', 'redirect_uri', 'state', 'response_type', 'code_challenge', 'code_challenge_method'];

/** The consent page: the request rides along in hidden fields, so the POST can re-check all of it. */
function consentPage(params: URLSearchParams, client: EmulatorClient, organizations: EmulatorOrganization[]): string {
  const hidden = AUTHORIZE_PARAMS.filter((name) => params.has(name))
    .map((name) => `<input type="hidden" name="${name}" value="${escapeHTML(params.get(name) as string)}">`)
    .join('\n');
  const choices = organizations.map((o) => `<option value="${escapeHTML(o.id)}">${escapeHTML(o.name)}</option>`).join('');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Samsara emulator: authorize ${escapeHTML(client.clientId)}</title></head>
<body>
<h1>Samsara (emulator)</h1>
<p>The app <strong id="client">${escapeHTML(client.clientId)}</strong> asks to:</p>
<ul><li>Read Org Information</li><li>Read Vehicles</li></ul>
<form method="post" action="/oauth2/authorize">
${hidden}
<label>Organization <select name="org_id">${choices}</select></label>
<button id="allow" type="submit" name="decision" value="allow">Allow</button>
<button id="deny" type="submit" name="decision" value="deny">Deny</button>
</form>
</body></html>`;
}
