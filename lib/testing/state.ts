import { randomBytes } from 'node:crypto';
import { DEFAULT_SCOPES } from './directory.js';
import type { EmulatedVehicle } from './fleet.js';
import type { EmulatorClient, EmulatorOrganization, Settings } from './options.js';
import type { EmulatedWebhook } from './webhook-fields.js';

// Everything the emulator remembers: who may sign in, and what it has handed out. Handlers read and
// change it; nothing here knows HTTP.

/** Entries, across the maps, below which prune.ts sweeps nothing. */
export const SWEEP_FROM = 1_000;

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
  /** Requests to /me, /fleet/* and /webhooks*, whatever the outcome. */
  apiCalls: number;
  /** API 401s. */
  unauthorized: number;
  /** API 403s: the grant's scopes do not cover the endpoint. */
  forbidden: number;
  /** API 429s. */
  rateLimited: number;
  /** The same 429s by the window that refused them (the one that stays full longest). */
  rateLimitedBy: { token: number; organization: number; endpoint: number };
  /**
   * Webhook deliveries: every POST to a receiver (`attempts`), and the events delivered (a 2xx)
   * or given up on (`failed`: the retries ran out, the webhook was deleted, or the emulator stopped).
   */
  webhooks: { attempts: number; delivered: number; failed: number };
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
  /** The grant's scopes, space-separated, as the token response's `scope` says them. */
  scope: string;
  orgId: string;
}

/** One authorization of one organization for one client: a refresh-token family. */
export interface Grant {
  /** Opaque and stable, for tests that reason per grant. */
  id: string;
  clientId: string;
  orgId: string;
  /** The client's scopes when the organization authorized: later changes need a new authorization. */
  scopes: readonly string[];
  revoked: boolean;
}

export interface CodeRecord {
  clientId: string;
  orgId: string;
  /** The redirect_uri the authorize request carried; undefined when it had none. */
  redirectUri: string | undefined;
  /** Where the code was sent: the redirect_uri, or the app's one registered URL. */
  deliveredTo: string;
  challenge: string | undefined;
  challengeMethod: 'S256' | 'plain';
  expiresAt: number;
  /** Set once the code is exchanged: a replay revokes it. */
  grant: Grant | undefined;
}

export interface RefreshRecord {
  grant: Grant;
  rotatedAt: number | undefined;
}

export interface AccessRecord {
  grant: Grant;
  expiresAt: number;
}

export interface EmulatorState {
  readonly clients: ReadonlyMap<string, EmulatorClient>;
  readonly orgs: ReadonlyMap<string, EmulatorOrganization>;
  readonly firstClient: EmulatorClient;
  readonly firstOrg: EmulatorOrganization;
  /** Each client's scopes as its app settings stand now; {@link SamsaraEmulator.setClientScopes} changes them. */
  readonly clientScopes: Map<string, readonly string[]>;
  /** Seconds. */
  readonly codeTtl: number;
  readonly clock: () => number;
  readonly codes: Map<string, CodeRecord>;
  readonly refreshTokens: Map<string, RefreshRecord>;
  readonly accessTokens: Map<string, AccessRecord>;
  readonly grants: Set<Grant>;
  /** Per rate-limit window (an access token, an organization, an endpoint of one), the times of its requests within its period. */
  readonly requestTimes: Map<string, number[]>;
  /** Generated on first use: most tests never list vehicles. */
  readonly fleets: Map<string, EmulatedVehicle[]>;
  readonly counters: EmulatorCounters;
  /**
   * Cursors are MACed with a per-instance key, so a forged, foreign or stale cursor is a 400, as an
   * unknown one is on Samsara, instead of silently paging from somewhere.
   */
  readonly cursorKey: Buffer;
  /** Every organization's webhooks, by id, oldest first. */
  readonly webhooks: Map<string, EmulatedWebhook>;
  /** Webhooks ever created: the serial of the next id. */
  webhooksCreated: number;
  /** Grants ever made: the serial of the next id (the set itself is pruned). */
  grantsMade: number;
  /** When the maps are next swept, in entries (see prune.ts). */
  readonly pruning: { next: number };
}

export function createState(
  clients: ReadonlyMap<string, EmulatorClient>,
  orgs: ReadonlyMap<string, EmulatorOrganization>,
  codeTtl: number,
  clock: () => number,
): EmulatorState {
  return {
    clients,
    orgs,
    firstClient: [...clients.values()][0],
    firstOrg: [...orgs.values()][0],
    clientScopes: new Map([...clients.values()].map((c) => [c.clientId, [...(c.scopes ?? DEFAULT_SCOPES)]])),
    codeTtl,
    clock,
    codes: new Map(),
    refreshTokens: new Map(),
    accessTokens: new Map(),
    grants: new Set(),
    requestTimes: new Map(),
    fleets: new Map(),
    counters: zeroCounters(),
    cursorKey: randomBytes(32),
    webhooks: new Map(),
    webhooksCreated: 0,
    grantsMade: 0,
    pruning: { next: SWEEP_FROM },
  };
}

export function zeroCounters(): EmulatorCounters {
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
    forbidden: 0,
    rateLimited: 0,
    rateLimitedBy: { token: 0, organization: 0, endpoint: 0 },
    webhooks: { attempts: 0, delivered: 0, failed: 0 },
  };
}

export function newGrant(state: EmulatorState, clientId: string, orgId: string): Grant {
  const scopes = state.clientScopes.get(clientId) ?? DEFAULT_SCOPES;
  const grant = { id: `grant-${++state.grantsMade}`, clientId, orgId, scopes, revoked: false };
  state.grants.add(grant);
  return grant;
}

export function issueTokens(state: EmulatorState, settings: Settings, grant: Grant): IssuedGrant {
  const accessToken = randomToken();
  const refreshToken = randomToken();
  state.accessTokens.set(accessToken, { grant, expiresAt: state.clock() + settings.accessTokenTtl * 1000 });
  state.refreshTokens.set(refreshToken, { grant, rotatedAt: undefined });
  const scope = grant.scopes.join(' ');
  return { accessToken, refreshToken, expiresIn: settings.accessTokenTtl, scope, orgId: grant.orgId };
}

/** The grant of an access or refresh token, whatever state either is in. */
export function grantOf(state: EmulatorState, token: string): Grant | undefined {
  return state.refreshTokens.get(token)?.grant ?? state.accessTokens.get(token)?.grant;
}

/**
 * Revokes what one successful revoke request reaches from `grant` (see the `revocation` option):
 * that grant, or every grant of its organization and client.
 */
export function revokeFrom(state: EmulatorState, settings: Settings, grant: Grant): void {
  if (settings.revocation === 'grant') {
    grant.revoked = true;
    return;
  }
  for (const other of state.grants) {
    if (other.orgId === grant.orgId && other.clientId === grant.clientId) other.revoked = true;
  }
}

export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}
