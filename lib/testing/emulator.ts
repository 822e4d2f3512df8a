import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { vehiclesOf, type EmulatedVehicle } from './fleet.js';

// Written from SAMSARA.md and RFC 6749 / 7009 / 7636, not from the client: it plays the server,
// so it must not share the client's bugs. It imports nothing from the rest of the package.

/** The emulator's default client id: a public test value. */
export const EMULATOR_CLIENT_ID = 'samsara-emulator-client';
/** The emulator's default client secret: a public test value, fine to print. */
export const EMULATOR_CLIENT_SECRET = 'samsara-emulator-secret';

/** An OAuth client (a Marketplace app) the emulator knows. */
export interface EmulatorClient {
  clientId: string;
  clientSecret: string;
  /** Registered redirect URLs, matched exactly. Omitted: any http(s) URL on a loopback host. */
  redirectUris?: string[];
}

/** An organization that can authorize apps. */
export interface EmulatorOrganization {
  id: string;
  name: string;
  carrierSettings?: { carrierName: string; dotNumber: number; mainOfficeAddress: string };
  /** How many vehicles `/fleet/vehicles` lists. Default 1200. */
  vehicleCount?: number;
}

/** Which endpoint a fault applies to; `api` covers `/me` and `/fleet/*`. */
export type EmulatorEndpoint = 'authorize' | 'token' | 'revoke' | 'api';

/** A misbehaviour for the next request(s) of an endpoint. */
export type EmulatorFault =
  | { type: 'status'; status: number; body?: string; contentType?: string; headers?: Record<string, string> }
  | { type: 'hang' }
  | { type: 'drop' }
  | { type: 'drop-after-grant' }
  | { type: 'delay'; ms: number };

/** Options of {@link startSamsaraEmulator}. */
export interface EmulatorOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Default: one client, {@link EMULATOR_CLIENT_ID} / {@link EMULATOR_CLIENT_SECRET}, any loopback redirect. */
  clients?: EmulatorClient[];
  /** Default: organization `1001`, "Charlie's Dining Services", 1200 vehicles. */
  organizations?: EmulatorOrganization[];
  /** Skip the consent page: `true` approves for the first organization, a string for that org id. */
  autoApprove?: boolean | string;
  /** `expires_in` of access tokens, in seconds. Default 3600. */
  accessTokenTtl?: number;
  /** Lifetime of authorization codes, in seconds. Default 600. */
  codeTtl?: number;
  /** Milliseconds a rotated-out refresh token keeps working. Default 0: strictly single use. */
  refreshTokenReuseGrace?: number;
  /**
   * Reuse detection (OAuth 2.0 Security BCP): a rotated-out refresh token presented again revokes
   * the whole grant. Samsara does not document it either way. Default false.
   */
  revokeOnReuse?: boolean;
  /** Milliseconds added before every response. Default 0. */
  latency?: number;
  /** API requests per second per access token before 429. Default 150 (Samsara's limit). */
  rateLimit?: number;
  /** Milliseconds since the epoch; tests move time with it. Default `Date.now`. */
  clock?: () => number;
}

/** What the emulator has seen; tests and benchmarks read it. */
export interface EmulatorCounters {
  /** Every POST /oauth2/token. */
  tokenRequests: number;
  /** Token requests by grant_type, counted on receipt. */
  grants: { authorization_code: number; refresh_token: number };
  tokensIssued: number;
  invalidGrant: number;
  invalidClient: number;
  invalidRequest: number;
  /** POST /oauth2/revoke received. */
  revocations: number;
  /** Requests to /me and /fleet/*. */
  apiCalls: number;
  /** API 401s. */
  unauthorized: number;
  /** API 429s. */
  rateLimited: number;
}

/** A grant made without the browser, as if the organization had authorized. */
export interface IssuedGrant {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  scope: string;
  orgId: string;
}

/**
 * A running emulator.
 *
 * @example
 * ```ts
 * const samsara = await startSamsaraEmulator({ autoApprove: true });
 * new SamsaraStrategy({ clientID: samsara.clientId, clientSecret: samsara.clientSecret, baseURL: samsara.url });
 * // ... later
 * expect(samsara.counters.grants.refresh_token).to.equal(1);
 * await samsara.stop();
 * ```
 */
export interface SamsaraEmulator {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly counters: EmulatorCounters;
  resetCounters(): void;
  /** The next `times` requests to `endpoint` misbehave (first in, first out). */
  injectFault(endpoint: EmulatorEndpoint, fault: EmulatorFault, times?: number): void;
  clearFaults(): void;
  configure(
    changes: Partial<
      Pick<EmulatorOptions, 'accessTokenTtl' | 'refreshTokenReuseGrace' | 'revokeOnReuse' | 'latency' | 'rateLimit' | 'autoApprove'>
    >,
  ): void;
  issueGrant(orgId?: string, clientId?: string): IssuedGrant;
  /** Every live access token (of that organization) expires now. */
  expireAccessTokens(orgId?: string): void;
  /** `rotated`: the token was used and replaced. */
  grantStatus(refreshToken: string): 'active' | 'rotated' | 'revoked' | 'unknown';
  /** Grants not revoked. */
  activeGrants(orgId?: string): number;
  /** Closes the server and every socket, hanging ones included. Idempotent. */
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
  redirectUri: string | undefined;
  challenge: string | undefined;
  method: string | undefined;
  expiresAt: number;
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

const SCOPE = 'read_org read_vehicles';
const MAX_BODY = 16 * 1024;
const DEFAULT_ORG: EmulatorOrganization = {
  id: '1001',
  name: "Charlie's Dining Services",
  carrierSettings: { carrierName: "Charlie's Dining Services", dotNumber: 98231, mainOfficeAddress: '1990 Alameda St, San Francisco, CA 94103' },
};

class HttpError {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {}
}

/**
 * Starts a local Samsara: OAuth 2.0 authorize (a consent page), token (Basic client auth, single-use
 * codes, rotating single-use refresh tokens) and revoke endpoints, `GET /me` and
 * `GET /fleet/vehicles`, with faults, latency and counters.
 *
 * @example
 * ```ts
 * import { startSamsaraEmulator } from 'passport-samsara/testing';
 * const samsara = await startSamsaraEmulator({ autoApprove: true, accessTokenTtl: 60 });
 * process.env.SAMSARA_BASE_URL = samsara.url;
 * process.env.SAMSARA_CLIENT_ID = samsara.clientId;
 * process.env.SAMSARA_CLIENT_SECRET = samsara.clientSecret;
 * ```
 */
export async function startSamsaraEmulator(options: EmulatorOptions = {}): Promise<SamsaraEmulator> {
  const settings = {
    autoApprove: options.autoApprove ?? false,
    accessTokenTtl: options.accessTokenTtl ?? 3600,
    refreshTokenReuseGrace: options.refreshTokenReuseGrace ?? 0,
    revokeOnReuse: options.revokeOnReuse ?? false,
    latency: options.latency ?? 0,
    rateLimit: options.rateLimit ?? 150,
  };
  const codeTtl = options.codeTtl ?? 600;
  const clock = options.clock ?? Date.now;
  const clients = new Map(
    (options.clients ?? [{ clientId: EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET }]).map((c) => [c.clientId, c]),
  );
  const orgs = new Map((options.organizations ?? [DEFAULT_ORG]).map((o) => [o.id, o]));
  const fleets = new Map<string, EmulatedVehicle[]>();
  const codes = new Map<string, CodeRecord>();
  const refreshTokens = new Map<string, RefreshRecord>();
  const accessTokens = new Map<string, AccessRecord>();
  const grants = new Set<Grant>();
  const windows = new Map<string, number[]>();
  const faults: Record<EmulatorEndpoint, EmulatorFault[]> = { authorize: [], token: [], revoke: [], api: [] };
  const counters = zeroCounters();
  const sockets = new Set<Socket>();

  const firstClient = clients.values().next().value as EmulatorClient;
  const firstOrg = orgs.values().next().value as EmulatorOrganization;

  function issue(grant: Grant): Record<string, unknown> {
    const accessToken = randomToken();
    const refreshToken = randomToken();
    accessTokens.set(accessToken, { grant, expiresAt: clock() + settings.accessTokenTtl * 1000 });
    refreshTokens.set(refreshToken, { grant, rotatedAt: undefined });
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: settings.accessTokenTtl,
      refresh_token: refreshToken,
      scope: SCOPE,
    };
  }

  function newGrant(clientId: string, orgId: string): Grant {
    const grant = { clientId, orgId, revoked: false };
    grants.add(grant);
    return grant;
  }

  // ---- OAuth: authorize ------------------------------------------------------------------

  function authorizeTarget(params: URLSearchParams): { client: EmulatorClient; redirectUri: string } {
    const client = clients.get(params.get('client_id') ?? '');
    if (!client) throw new HttpError(400, { html: 'Unknown client_id.' });
    const given = params.get('redirect_uri') ?? undefined;
    const redirectUri = given ?? (client.redirectUris?.length === 1 ? client.redirectUris[0] : undefined);
    if (!redirectUri) throw new HttpError(400, { html: 'redirect_uri is missing and the app has no single registered one.' });
    const registered = client.redirectUris ? client.redirectUris.includes(redirectUri) : isLoopbackURL(redirectUri);
    if (!registered) throw new HttpError(400, { html: 'redirect_uri is not registered for this app.' });
    return { client, redirectUri };
  }

  function redirectWith(res: ServerResponse, redirectUri: string, params: Record<string, string | undefined>): void {
    const target = new URL(redirectUri);
    for (const [name, value] of Object.entries(params)) if (value !== undefined) target.searchParams.set(name, value);
    res.writeHead(302, { location: target.href, 'cache-control': 'no-store' }).end();
  }

  function approve(res: ServerResponse, params: URLSearchParams, client: EmulatorClient, redirectUri: string, orgId: string): void {
    if (!orgs.has(orgId)) throw new HttpError(400, { html: 'Unknown organization.' });
    const challenge = params.get('code_challenge') ?? undefined;
    const code = randomToken();
    codes.set(code, {
      clientId: client.clientId,
      orgId,
      redirectUri: params.get('redirect_uri') ?? undefined,
      challenge,
      method: challenge ? (params.get('code_challenge_method') ?? 'plain') : undefined,
      expiresAt: clock() + codeTtl * 1000,
      grant: undefined,
    });
    redirectWith(res, redirectUri, { code, state: params.get('state') ?? undefined });
  }

  function handleAuthorize(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): void {
    const { client, redirectUri } = authorizeTarget(params);
    const state = params.get('state') ?? undefined;
    if (params.get('response_type') !== 'code') {
      redirectWith(res, redirectUri, { error: 'unsupported_response_type', state });
      return;
    }
    const method = params.get('code_challenge_method');
    if (params.has('code_challenge') && method !== null && method !== 'S256' && method !== 'plain') {
      redirectWith(res, redirectUri, { error: 'invalid_request', error_description: 'Unsupported code_challenge_method.', state });
      return;
    }
    if (req.method === 'POST') {
      if (params.get('decision') !== 'allow') {
        redirectWith(res, redirectUri, { error: 'access_denied', error_description: 'The user denied access', state });
        return;
      }
      approve(res, params, client, redirectUri, params.get('org_id') ?? firstOrg.id);
      return;
    }
    if (settings.autoApprove) {
      approve(res, params, client, redirectUri, typeof settings.autoApprove === 'string' ? settings.autoApprove : firstOrg.id);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(consentPage(params, client, [...orgs.values()]));
  }

  // ---- OAuth: token and revoke -------------------------------------------------------------

  function authenticateClient(req: IncomingMessage, form: URLSearchParams): EmulatorClient {
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
      throw oauthError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded.');
    }
    const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(req.headers.authorization ?? '');
    const decoded = match ? Buffer.from(match[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const id = colon > 0 ? formDecode(decoded.slice(0, colon)) : undefined;
    const secret = colon > 0 ? formDecode(decoded.slice(colon + 1)) : undefined;
    const client = id === undefined ? undefined : clients.get(id);
    if (!client || client.clientSecret !== secret) {
      throw oauthError(401, 'invalid_client', 'Client authentication failed.', { 'www-authenticate': 'Basic realm="samsara"' });
    }
    if (form.has('client_secret') || (form.has('client_id') && form.get('client_id') !== client.clientId)) {
      throw oauthError(400, 'invalid_request', 'The request uses more than one client authentication method.');
    }
    return client;
  }

  function exchangeCode(client: EmulatorClient, form: URLSearchParams): Record<string, unknown> {
    const code = form.get('code');
    if (!code) throw oauthError(400, 'invalid_request', 'code is required.');
    const record = codes.get(code);
    if (!record || record.clientId !== client.clientId) throw oauthError(400, 'invalid_grant', 'The authorization code is invalid.');
    if (record.grant) {
      // RFC 6749 §4.1.2: a replayed code revokes what it produced.
      record.grant.revoked = true;
      throw oauthError(400, 'invalid_grant', 'The authorization code was already used.');
    }
    if (clock() >= record.expiresAt) throw oauthError(400, 'invalid_grant', 'The authorization code has expired.');
    if (record.redirectUri !== undefined && form.get('redirect_uri') !== record.redirectUri) {
      throw oauthError(400, 'invalid_grant', 'redirect_uri does not match the authorization request.');
    }
    if (record.challenge !== undefined && !pkceMatches(record, form.get('code_verifier'))) {
      throw oauthError(400, 'invalid_grant', 'code_verifier does not match the code_challenge.');
    }
    record.grant = newGrant(client.clientId, record.orgId);
    return issue(record.grant);
  }

  function refresh(client: EmulatorClient, form: URLSearchParams): Record<string, unknown> {
    const token = form.get('refresh_token');
    if (!token) throw oauthError(400, 'invalid_request', 'refresh_token is required.');
    const record = refreshTokens.get(token);
    if (!record || record.grant.revoked || record.grant.clientId !== client.clientId) {
      throw oauthError(400, 'invalid_grant', 'The refresh token is invalid or revoked.');
    }
    if (record.rotatedAt !== undefined && clock() - record.rotatedAt > settings.refreshTokenReuseGrace) {
      if (settings.revokeOnReuse) record.grant.revoked = true;
      throw oauthError(400, 'invalid_grant', 'The refresh token was already used.');
    }
    record.rotatedAt ??= clock();
    return issue(record.grant);
  }

  async function handleToken(req: IncomingMessage, res: ServerResponse, form: URLSearchParams, fault: EmulatorFault | undefined): Promise<void> {
    const grantType = form.get('grant_type');
    if (grantType === 'authorization_code' || grantType === 'refresh_token') counters.grants[grantType]++;
    if (await applyFault(req, res, fault)) return;
    const client = authenticateClient(req, form);
    let body: Record<string, unknown>;
    if (grantType === 'authorization_code') body = exchangeCode(client, form);
    else if (grantType === 'refresh_token') body = refresh(client, form);
    else if (!grantType) throw oauthError(400, 'invalid_request', 'grant_type is required.');
    else throw oauthError(400, 'unsupported_grant_type', `grant_type ${grantType} is not supported.`);
    counters.tokensIssued++;
    if (fault?.type === 'drop-after-grant') {
      req.socket.destroy();
      return;
    }
    sendJSON(res, 200, body, { 'cache-control': 'no-store', pragma: 'no-cache' });
  }

  async function handleRevoke(req: IncomingMessage, res: ServerResponse, form: URLSearchParams, fault: EmulatorFault | undefined): Promise<void> {
    if (await applyFault(req, res, fault)) return;
    const client = authenticateClient(req, form);
    const token = form.get('token');
    if (!token) throw oauthError(400, 'invalid_request', 'token is required.');
    const grant = refreshTokens.get(token)?.grant ?? accessTokens.get(token)?.grant;
    // RFC 7009 §2.2: an unknown token is not an error.
    if (grant && grant.clientId === client.clientId) grant.revoked = true;
    sendJSON(res, 200, {}, { 'cache-control': 'no-store' });
  }

  // ---- API -------------------------------------------------------------------------------

  function authorizeApi(req: IncomingMessage): AccessRecord {
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const token = match?.[1];
    const record = token === undefined ? undefined : accessTokens.get(token);
    if (!record || record.grant.revoked || clock() >= record.expiresAt) {
      counters.unauthorized++;
      throw apiError(401, token === undefined ? 'Missing access token.' : 'Invalid, expired or revoked access token.');
    }
    const now = clock();
    const window = (windows.get(token as string) ?? []).filter((t) => t > now - 1000);
    if (window.length >= settings.rateLimit) {
      counters.rateLimited++;
      const wait = Math.max(0.001, (window[0] + 1000 - now) / 1000);
      windows.set(token as string, window);
      throw apiError(429, 'Rate limit exceeded.', { 'retry-after': wait.toFixed(5) });
    }
    window.push(now);
    windows.set(token as string, window);
    return record;
  }

  function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const path = url.pathname.replace(/\/+$/, '');
    if (path !== '/me' && path !== '/fleet/vehicles') throw apiError(404, 'Not found.');
    if (req.method !== 'GET') throw apiError(405, 'Method not allowed.', { allow: 'GET' });
    const { grant } = authorizeApi(req);
    const org = orgs.get(grant.orgId) as EmulatorOrganization;
    if (path === '/me') {
      sendJSON(res, 200, { data: { id: org.id, name: org.name, ...(org.carrierSettings ? { carrierSettings: org.carrierSettings } : {}) } });
      return;
    }
    const limitParam = url.searchParams.get('limit');
    const limit = limitParam === null ? 512 : /^\d+$/.test(limitParam) ? Number(limitParam) : NaN;
    if (!(limit >= 1 && limit <= 512)) throw apiError(400, 'limit must be an integer from 1 to 512.');
    const after = url.searchParams.get('after');
    const offset = after ? decodeCursor(after, org.id) : 0;
    if (offset === undefined) throw apiError(400, 'Invalid pagination cursor.');
    let fleet = fleets.get(org.id);
    if (!fleet) {
      fleet = vehiclesOf(org.id, org.vehicleCount ?? 1200);
      fleets.set(org.id, fleet);
    }
    const data = fleet.slice(offset, offset + limit);
    const hasNextPage = offset + limit < fleet.length;
    sendJSON(res, 200, { data, pagination: { endCursor: hasNextPage ? encodeCursor(offset + limit, org.id) : '', hasNextPage } });
  }

  // ---- plumbing ------------------------------------------------------------------------------

  /** Answers a `status`, `hang` or `drop` fault, waits out a `delay`; true when the request is done. */
  async function applyFault(req: IncomingMessage, res: ServerResponse, fault: EmulatorFault | undefined): Promise<boolean> {
    if (!fault) return false;
    switch (fault.type) {
      case 'status':
        res.writeHead(fault.status, { 'content-type': fault.contentType ?? 'text/plain', ...fault.headers }).end(fault.body ?? '');
        return true;
      case 'hang':
        return true;
      case 'drop':
        req.socket.destroy();
        return true;
      case 'delay':
        await sleep(fault.ms);
        return false;
      case 'drop-after-grant':
        return false;
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const body = await readBody(req);
    if (settings.latency > 0) await sleep(settings.latency);
    const endpoint = endpointOf(url.pathname);
    const fault = endpoint ? faults[endpoint].shift() : undefined;
    if (endpoint === 'token') {
      counters.tokenRequests++;
      if (req.method !== 'POST') throw oauthError(405, 'invalid_request', 'Use POST.');
      return handleToken(req, res, new URLSearchParams(body), fault);
    }
    if (endpoint === 'revoke') {
      counters.revocations++;
      if (req.method !== 'POST') throw oauthError(405, 'invalid_request', 'Use POST.');
      return handleRevoke(req, res, new URLSearchParams(body), fault);
    }
    if (endpoint === 'api') counters.apiCalls++;
    if (await applyFault(req, res, fault)) return;
    if (endpoint === 'authorize') {
      if (req.method !== 'GET' && req.method !== 'POST') throw new HttpError(405, { html: 'Use GET or POST.' });
      return handleAuthorize(req, res, req.method === 'POST' ? new URLSearchParams(body) : url.searchParams);
    }
    handleApi(req, res, url);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent || req.socket.destroyed) return;
      if (!(err instanceof HttpError)) {
        sendJSON(res, 500, { message: 'Internal emulator error.', requestId: requestId() });
        return;
      }
      if (typeof err.body.html === 'string') {
        res.writeHead(err.status, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><title>Error</title><p>${escapeHTML(err.body.html)}</p>`);
        return;
      }
      if (err.body.error === 'invalid_grant') counters.invalidGrant++;
      if (err.body.error === 'invalid_client') counters.invalidClient++;
      if (err.body.error === 'invalid_request') counters.invalidRequest++;
      sendJSON(res, err.status, err.body, err.headers);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let stopped: Promise<void> | undefined;

  return {
    url: `http://${host}:${address.port}`,
    clientId: firstClient.clientId,
    clientSecret: firstClient.clientSecret,
    counters,
    resetCounters: () => Object.assign(counters, zeroCounters()),
    injectFault(endpoint, fault, times = 1) {
      for (let i = 0; i < times; i++) faults[endpoint].push(fault);
    },
    clearFaults() {
      for (const queue of Object.values(faults)) queue.length = 0;
    },
    configure(changes) {
      Object.assign(settings, Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)));
    },
    issueGrant(orgId = firstOrg.id, clientId = firstClient.clientId) {
      if (!orgs.has(orgId)) throw new Error(`The emulator has no organization ${orgId}.`);
      const body = issue(newGrant(clientId, orgId));
      return {
        accessToken: body.access_token as string,
        refreshToken: body.refresh_token as string,
        expiresIn: body.expires_in as number,
        scope: SCOPE,
        orgId,
      };
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
      return [...grants].filter((g) => !g.revoked && (orgId === undefined || g.orgId === orgId)).length;
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}

function endpointOf(pathname: string): EmulatorEndpoint | undefined {
  if (pathname === '/oauth2/authorize') return 'authorize';
  if (pathname === '/oauth2/token') return 'token';
  if (pathname === '/oauth2/revoke') return 'revoke';
  return 'api';
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, { error: 'invalid_request', error_description: 'Request body too large.' });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJSON(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

function oauthError(status: number, error: string, description: string, headers: Record<string, string> = {}): HttpError {
  return new HttpError(status, { error, error_description: description }, { 'cache-control': 'no-store', ...headers });
}

function apiError(status: number, message: string, headers: Record<string, string> = {}): HttpError {
  return new HttpError(status, { message, requestId: requestId() }, headers);
}

function pkceMatches(record: CodeRecord, verifier: string | null): boolean {
  if (!verifier) return false;
  const expected = record.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
  return expected === record.challenge;
}

function isLoopbackURL(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      (url.hostname === 'localhost' || url.hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(url.hostname))
    );
  } catch {
    return false;
  }
}

function encodeCursor(offset: number, orgId: string): string {
  return Buffer.from(JSON.stringify({ o: orgId, i: offset })).toString('base64url');
}

function decodeCursor(cursor: string, orgId: string): number | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { o?: unknown; i?: unknown };
    return parsed.o === orgId && Number.isInteger(parsed.i) && (parsed.i as number) >= 0 ? (parsed.i as number) : undefined;
  } catch {
    return undefined;
  }
}

function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
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

function consentPage(params: URLSearchParams, client: EmulatorClient, organizations: EmulatorOrganization[]): string {
  const hidden = ['client_id', 'redirect_uri', 'state', 'response_type', 'code_challenge', 'code_challenge_method']
    .filter((name) => params.has(name))
    .map((name) => `<input type="hidden" name="${name}" value="${escapeHTML(params.get(name) as string)}">`)
    .join('');
  const options = organizations.map((o) => `<option value="${escapeHTML(o.id)}">${escapeHTML(o.name)}</option>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>Samsara emulator: authorize ${escapeHTML(client.clientId)}</title></head>
<body><h1>Samsara (emulator)</h1>
<p>The app <strong>${escapeHTML(client.clientId)}</strong> asks to read your organization and its vehicles.</p>
<form method="post" action="/oauth2/authorize">${hidden}
<label>Organization <select name="org_id">${options}</select></label>
<button id="allow" type="submit" name="decision" value="allow">Allow</button>
<button id="deny" type="submit" name="decision" value="deny">Deny</button>
</form></body></html>`;
}
