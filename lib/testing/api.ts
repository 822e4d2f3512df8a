import type { EmulatorOrganization, Settings } from './options.js';
import { Refusal, apiError, json, type Reply } from './replies.js';
import type { EmulatorRequest } from './request.js';
import type { EmulatorState, Grant } from './state.js';
import { vehicle, vehicles } from './vehicles.js';

// GET /me, GET /fleet/vehicles and GET /fleet/vehicles/{id}: Bearer tokens, Samsara's error shape
// ({message, requestId}) and its per-token rate limit.

export function api(state: EmulatorState, settings: Settings, request: EmulatorRequest): Reply {
  const path = withoutTrailingSlashes(request.url.pathname);
  const route = routeOf(path);
  if (!route) throw new Refusal(apiError(404, `No such endpoint: ${path}.`));
  if (request.method !== 'GET')
    throw new Refusal(apiError(405, `${request.method} is not allowed here.`, { allow: 'GET' }));
  const org = state.orgs.get(bearerGrant(state, settings, request).orgId) as EmulatorOrganization;
  if (route.name === 'vehicles') return vehicles(state, request.url, org);
  if (route.name === 'vehicle') return vehicle(state, route.id, org);
  return json(200, {
    data: { id: org.id, name: org.name, ...(org.carrierSettings && { carrierSettings: org.carrierSettings }) },
  });
}

type Route = { name: 'me' } | { name: 'vehicles' } | { name: 'vehicle'; id: string };

function routeOf(path: string): Route | undefined {
  if (path === '/me') return { name: 'me' };
  if (path === '/fleet/vehicles') return { name: 'vehicles' };
  const id = /^\/fleet\/vehicles\/([^/]+)$/.exec(path)?.[1];
  return id === undefined ? undefined : { name: 'vehicle', id };
}

/** Not `replace(/\/+$/, '')`: that backtracks quadratically on a long run of slashes not at the end. */
function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === '/') end--;
  return path.slice(0, end);
}

function bearerGrant(state: EmulatorState, settings: Settings, request: EmulatorRequest): Grant {
  const presented = /^Bearer +(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
  const record = presented === undefined ? undefined : state.accessTokens.get(presented);
  if (presented === undefined || !record || record.grant.revoked || state.clock() >= record.expiresAt) {
    state.counters.unauthorized++;
    const message = presented === undefined ? 'Missing access token.' : 'Invalid, expired or revoked access token.';
    throw new Refusal(apiError(401, message, { 'www-authenticate': 'Bearer realm="samsara", error="invalid_token"' }));
  }
  throttle(state, settings, presented);
  return record.grant;
}

/** A sliding one-second window per access token; the 429 says when the oldest request leaves it. */
function throttle(state: EmulatorState, settings: Settings, accessToken: string): void {
  const now = state.clock();
  const recent = (state.requestTimes.get(accessToken) ?? []).filter((t) => t > now - 1000);
  state.requestTimes.set(accessToken, recent);
  if (recent.length >= settings.rateLimit) {
    state.counters.rateLimited++;
    const seconds = Math.max(0.00001, (recent[0] + 1000 - now) / 1000);
    throw new Refusal(
      apiError(429, 'Rate limit exceeded: too many requests for this access token.', {
        'retry-after': seconds.toFixed(5),
      }),
    );
  }
  recent.push(now);
}
