import { ORG_SCOPE, SCOPE_LABELS, VEHICLES_SCOPE } from './directory.js';
import type { EmulatorOrganization, Settings } from './options.js';
import { throttle, type RateWindow } from './rate-limit.js';
import { Refusal, apiError, json, type Reply } from './replies.js';
import type { EmulatorRequest } from './request.js';
import type { EmulatorState, Grant } from './state.js';
import { vehicle, vehicles } from './vehicles.js';

// GET /me, GET /fleet/vehicles and GET /fleet/vehicles/{id}: Bearer tokens, Samsara's error shape
// ({message, requestId}), its rate limits and the grant's scopes. The checks run in the order a
// gateway would: route, method, token, rate limits, scope, then the endpoint's own parameters.

type Route = { name: 'me' } | { name: 'vehicles' } | { name: 'vehicle'; id: string };

export function api(state: EmulatorState, settings: Settings, request: EmulatorRequest): Reply {
  const path = withoutTrailingSlashes(request.url.pathname);
  const route = routeOf(path);
  if (!route) throw new Refusal(apiError(404, `No such endpoint: ${path}.`));
  if (request.method !== 'GET')
    throw new Refusal(apiError(405, `${request.method} is not allowed here.`, { allow: 'GET' }));
  const { grant, accessToken } = bearerGrant(state, request);
  throttle(state, windowsOf(settings, route, grant, accessToken));
  const needed = route.name === 'me' ? ORG_SCOPE : VEHICLES_SCOPE;
  if (!grant.scopes.includes(needed)) {
    state.counters.forbidden++;
    throw new Refusal(
      apiError(403, `The app lacks the ${SCOPE_LABELS[needed]} scope (${needed}) for this organization.`),
    );
  }
  const org = state.orgs.get(grant.orgId) as EmulatorOrganization;
  if (route.name === 'vehicles') return vehicles(state, request.url, org);
  if (route.name === 'vehicle') return vehicle(state, route.id, org);
  return json(200, {
    data: { id: org.id, name: org.name, ...(org.carrierSettings && { carrierSettings: org.carrierSettings }) },
  });
}

function routeOf(path: string): Route | undefined {
  if (path === '/me') return { name: 'me' };
  if (path === '/fleet/vehicles') return { name: 'vehicles' };
  const id = /^\/fleet\/vehicles\/([^/]+)$/.exec(path)?.[1];
  return id === undefined ? undefined : { name: 'vehicle', id };
}

/** Not `replace(/\/+$/, '')`: that backtracks quadratically on a long run of slashes not at the end. */
export function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === '/') end--;
  return path.slice(0, end);
}

/**
 * Per token, per organization, and per organization on each vehicles endpoint (Samsara lists its
 * endpoint limits per organization, "regardless of API token"; the single-vehicle endpoint is
 * given the list's budget, on a window of its own).
 */
function windowsOf(settings: Settings, route: Route, grant: Grant, accessToken: string): RateWindow[] {
  const windows = apiWindows(settings, grant, accessToken);
  if (route.name !== 'me') {
    const endpoint = route.name === 'vehicles' ? 'GET /fleet/vehicles' : 'GET /fleet/vehicles/{id}';
    windows.push({
      key: `endpoint:${grant.orgId}:${endpoint}`,
      limit: settings.vehiclesRateLimit,
      what: `${endpoint} in this organization`,
      kind: 'endpoint',
    });
  }
  return windows;
}

/** The windows every API request counts in: its token's and its organization's. */
export function apiWindows(settings: Settings, grant: Grant, accessToken: string): RateWindow[] {
  return [
    { key: `token:${accessToken}`, limit: settings.rateLimit, what: 'this access token', kind: 'token' },
    { key: `org:${grant.orgId}`, limit: settings.orgRateLimit, what: 'this organization', kind: 'organization' },
  ];
}

/** The live grant of the request's Bearer token, or a 401 (counted). */
export function bearerGrant(state: EmulatorState, request: EmulatorRequest): { grant: Grant; accessToken: string } {
  const presented = /^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
  const record = presented === undefined ? undefined : state.accessTokens.get(presented);
  if (presented === undefined || !record || record.grant.revoked || state.clock() >= record.expiresAt) {
    state.counters.unauthorized++;
    const message = presented === undefined ? 'Missing access token.' : 'Invalid, expired or revoked access token.';
    throw new Refusal(apiError(401, message, { 'www-authenticate': 'Bearer realm="samsara", error="invalid_token"' }));
  }
  return { grant: record.grant, accessToken: presented };
}
