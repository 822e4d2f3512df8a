import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebhookDeliveries } from './deliveries.js';
import { checkScopes, directoryOf } from './directory.js';
import { clearFaultQueues, emptyFaultQueues, playFault, queueFault } from './faults.js';
import type { SamsaraEmulator } from './handle.js';
import { applySettings, defaultSettings, type EmulatorOptions } from './options.js';
import { Refusal, emulatorBug, type Reply } from './replies.js';
import { badTarget, readBody, requestTarget, tooLarge } from './request.js';
import { pruneState, storageOf } from './prune.js';
import { endpointOf, handle } from './router.js';
import { createState, grantOf, issueTokens, newGrant, zeroCounters } from './state.js';
import { addWebhook, shown } from './webhooks.js';

export type { SamsaraEmulator } from './handle.js';

// Written from SAMSARA.md and RFC 6749 / 7009 / 7636, never from this package's client: it plays the
// server, so it must not share the client's bugs. Where Samsara's behaviour is known, the emulator
// plays it (a code exchange without redirect_uri works, as Samsara's own samples show) and keeps the
// RFC's stricter reading as an option; where it is not confirmed, the emulator takes the strict
// reading (single-use refresh tokens, Basic auth only) and makes the lenient one an option.
//
// This file checks the options, runs the request pipeline (counters, faults, latency, the body,
// then a handler) and hands out the public handle (its interface: handle.ts). The handlers themselves are plain functions of
// (state, settings, request) that return a reply: see router.ts.

/**
 * Starts a local Samsara on a free loopback port: the OAuth 2.0 authorize endpoint (a consent page,
 * or `autoApprove`), token endpoint (HTTP Basic client auth, single-use codes bound to their
 * redirect URI and PKCE challenge, rotating single-use refresh tokens), RFC 7009 revocation (of one
 * grant or the organization's, see {@link EmulatorOptions.revocation}), `GET /me`, a paginated and
 * filterable `GET /fleet/vehicles` and `GET /fleet/vehicles/{id}`, `/webhooks` and signed, retried
 * webhook deliveries ({@link SamsaraEmulator.emitEvent}), with Samsara's error shape, its
 * rate limits (per token, per organization, per endpoint) and per-client scopes, plus faults,
 * latency and counters for tests and benchmarks. No request, however malformed, stops it:
 * a failure of its own is answered with a JSON 500 `{message, requestId}`.
 *
 * @returns the running emulator's handle: its `baseURL`, `clientID` and `clientSecret` are client
 * options as they stand.
 * @throws `RangeError` for an option it cannot use (a non-positive TTL, an unknown client...).
 *
 * @example
 * ```ts
 * import { startSamsaraEmulator } from 'passport-samsara/testing';
 *
 * const samsara = await startSamsaraEmulator({ autoApprove: true, accessTokenTtl: 60 });
 * process.env.SAMSARA_BASE_URL = samsara.baseURL;
 * process.env.SAMSARA_CLIENT_ID = samsara.clientID;
 * process.env.SAMSARA_CLIENT_SECRET = samsara.clientSecret;
 * // ... run the app against it, then:
 * await samsara.stop();
 * ```
 */
export async function startSamsaraEmulator(options: EmulatorOptions = {}): Promise<SamsaraEmulator> {
  const { clients, orgs } = directoryOf(options);
  const codeTtl = options.codeTtl ?? 600;
  if (!(codeTtl > 0)) throw new RangeError(`codeTtl must be a positive number of seconds, not ${codeTtl}.`);
  const webhookHistory = options.webhookHistory ?? 1000;
  if (!(Number.isInteger(webhookHistory) && webhookHistory >= 0)) {
    throw new RangeError(`webhookHistory must be a whole number of deliveries, not ${webhookHistory}.`);
  }
  const settings = defaultSettings();
  const orgIds = new Set(orgs.keys());
  applySettings(settings, options, orgIds);
  const state = createState(clients, orgs, codeTtl, options.clock ?? Date.now);
  const { counters } = state;
  const faults = emptyFaultQueues();
  // stop() aborts pending latency and delay timers: they must neither keep the process alive nor
  // process a request after the emulator is gone.
  const stopping = new AbortController();
  // One listener per request waiting out its latency: as many as requests are in flight.
  setMaxListeners(0, stopping.signal);
  const pause = async (ms: number): Promise<void> => {
    if (ms > 0) await sleep(ms, undefined, { signal: stopping.signal });
  };
  const deliveries = new WebhookDeliveries(state, settings, stopping.signal, webhookHistory);

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestTarget(req.url);
    const endpoint = url && endpointOf(url.pathname);
    if (endpoint === 'token' && req.method === 'POST') counters.tokenRequests++;
    if (endpoint === 'revoke' && req.method === 'POST') counters.revocations++;
    if (endpoint === 'api') counters.apiCalls++;
    const fault = endpoint && faults[endpoint].shift();
    let body: string | undefined;
    try {
      body = await readBody(req);
    } catch {
      // The client hung up mid-body: nobody is left to answer.
      req.socket.destroy();
      return;
    }
    const form = new URLSearchParams(body ?? '');
    const grantType = endpoint === 'token' ? form.get('grant_type') : null;
    if (grantType === 'authorization_code' || grantType === 'refresh_token') counters.grants[grantType]++;
    await pause(settings.latency);
    const played = fault && (await playFault(fault, pause));
    if (played === 'hang') return;
    if (played === 'drop') {
      req.socket.destroy();
      return;
    }
    if (played) {
      send(res, played);
      return;
    }
    let reply: Reply;
    if (url === undefined) reply = badTarget();
    else if (body === undefined) reply = tooLarge(endpoint);
    else reply = handle(state, settings, { method: req.method ?? 'GET', url, headers: req.headers, form, body });
    pruneState(state, settings);
    if (reply.oauthError === 'invalid_grant') counters.invalidGrant++;
    if (reply.oauthError === 'invalid_client') counters.invalidClient++;
    if (reply.oauthError === 'invalid_request') counters.invalidRequest++;
    if (fault?.type === 'drop-after-grant') {
      req.socket.destroy();
      return;
    }
    send(res, reply);
  }

  /** The last word on a request whose handling threw: a JSON 500 if nothing was sent yet, else a hang-up. */
  function fail(res: ServerResponse, err: unknown): void {
    // Stopping aborts the pauses of requests in flight, which were never to be answered.
    if (stopping.signal.aborted) return;
    try {
      if (res.headersSent) res.destroy();
      else send(res, emulatorBug(err));
    } catch {
      res.destroy();
    }
  }

  const server = createServer((req, res) => {
    serve(req, res).catch((err: unknown) => fail(res, err));
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
    baseURL: `http://${host}:${address.port}`,
    clientID: state.firstClient.clientId,
    clientSecret: state.firstClient.clientSecret,
    counters,
    resetCounters() {
      Object.assign(counters, zeroCounters());
    },
    stored() {
      return storageOf(state);
    },
    injectFault(endpoint, fault, times = 1) {
      queueFault(faults, endpoint, fault, times);
    },
    clearFaults() {
      clearFaultQueues(faults);
    },
    configure(changes) {
      applySettings(settings, changes, orgIds);
    },
    setClientScopes(scopes, clientId = state.firstClient.clientId) {
      if (!clients.has(clientId)) throw new RangeError(`The emulator has no client ${clientId}.`);
      checkScopes(scopes, clientId);
      state.clientScopes.set(clientId, [...scopes]);
    },
    issueGrant(orgId = state.firstOrg.id, clientId = state.firstClient.clientId) {
      if (!orgs.has(orgId)) throw new RangeError(`The emulator has no organization ${orgId}.`);
      if (!clients.has(clientId)) throw new RangeError(`The emulator has no client ${clientId}.`);
      return issueTokens(state, settings, newGrant(state, clientId, orgId));
    },
    expireAccessTokens(orgId) {
      const now = state.clock();
      for (const record of state.accessTokens.values()) {
        if (orgId === undefined || record.grant.orgId === orgId) record.expiresAt = Math.min(record.expiresAt, now);
      }
    },
    grantStatus(refreshToken) {
      const record = state.refreshTokens.get(refreshToken);
      if (!record) return 'unknown';
      if (record.grant.revoked) return 'revoked';
      return record.rotatedAt === undefined ? 'active' : 'rotated';
    },
    grantId(token) {
      return grantOf(state, token)?.id;
    },
    activeGrants(orgId) {
      let active = 0;
      for (const grant of state.grants) if (!grant.revoked && (orgId === undefined || grant.orgId === orgId)) active++;
      return active;
    },
    emitEvent(orgId, eventType, data = {}, emitOptions = {}) {
      return deliveries.emit(orgId, eventType, data, emitOptions);
    },
    addWebhook(orgId, fields) {
      if (!orgs.has(orgId)) throw new RangeError(`The emulator has no organization ${orgId}.`);
      try {
        return { orgId, ...shown(addWebhook(state, orgId, fields)) };
      } catch (err) {
        if (err instanceof Refusal) {
          throw new RangeError((JSON.parse(err.reply.body) as { message: string }).message, { cause: err });
        }
        throw err;
      }
    },
    webhooksOf(orgId) {
      return [...state.webhooks.values()]
        .filter((webhook) => orgId === undefined || webhook.orgId === orgId)
        .map((webhook) => ({ orgId: webhook.orgId, ...shown(webhook) }));
    },
    webhookDeliveries() {
      return deliveries.history();
    },
    webhooksSettled() {
      return deliveries.settled();
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        stopping.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => deliveries.settled());
      return stopped;
    },
  };
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.destroyed || res.socket?.destroyed) return;
  res.writeHead(reply.status, reply.headers).end(reply.body);
}
