import { createHash } from 'node:crypto';
import type { SamsaraRegion } from '../endpoints.js';

/**
 * The tokens of one grant, as the token endpoint issued them (camelCase, expiry in ms since the
 * epoch). `OAuthClient` returns this shape; `TokenManager.connect` takes it.
 *
 * @example
 * ```ts
 * const tokens: GrantTokens = { accessToken, refreshToken, expiresAt: Date.now() + 3600_000, scope: 'read_org' };
 * await manager.connect(orgId, tokens);
 * ```
 */
export interface GrantTokens {
  accessToken: string;
  refreshToken: string;
  /** Milliseconds since the epoch: time of receipt + `expires_in`. */
  expiresAt: number;
  scope?: string;
  /**
   * The region whose OAuth app issued the grant. The manager routes the grant's refreshes,
   * revokes and API calls to that region's client. Default: the manager's default client's.
   */
  region?: SamsaraRegion;
}

/**
 * A token response as passport-oauth2 hands it to a verify callback (`params`), with `expires_at`
 * in ms since the epoch. `TokenManager.connect` takes it as it is.
 *
 * @example
 * ```ts
 * await strategy.tokens.connect(profile.id, params);
 * ```
 */
export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  expires_at: number;
  scope?: string;
  /** Set by `SamsaraStrategy`: the region of the client that exchanged the code. */
  region?: SamsaraRegion;
}

/**
 * One organization's credentials, as the token store keeps them: the tokens, the grant they
 * belong to, and the store's version of them.
 *
 * @example
 * ```ts
 * const creds = await store.get('1001');
 * if (creds) console.log(creds.grantId, new Date(creds.expiresAt));
 * ```
 */
export interface Credentials extends GrantTokens {
  /**
   * Which grant these tokens belong to: fixed at sign-in and kept across refreshes, which rotate
   * the tokens but not the grant. A removal names the grants it removes, so it never removes one
   * it did not read.
   */
  grantId: string;
  /** The client id of the OAuth app that issued the grant (with `region`: who can refresh it). */
  clientID?: string;
  /** Set by the store: it grows on every write; compare-and-set compares it. */
  version: number;
}

/**
 * Credentials before a store gives them a version: what a write takes, and what a retired grant is.
 *
 * @example
 * ```ts
 * const retired: NewCredentials[] = await store.retired('1001');
 * ```
 */
export type NewCredentials = Omit<Credentials, 'version'>;

/** `tokens` in the camelCase shape, whichever shape they came in. */
export function grantTokensOf(tokens: GrantTokens | TokenResponse): GrantTokens {
  if ('accessToken' in tokens) {
    const { accessToken, refreshToken, expiresAt, scope, region } = tokens;
    return { accessToken, refreshToken, expiresAt, ...(scope ? { scope } : {}), ...(region ? { region } : {}) };
  }
  return {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    expiresAt: tokens.expires_at,
    ...(tokens.scope ? { scope: tokens.scope } : {}),
    ...(tokens.region ? { region: tokens.region } : {}),
  };
}

/**
 * A refresh token's fingerprint: a truncated SHA-256, which names the token without revealing it.
 * A store keeps it in the clear beside each sealed grant, so that a removal can check that it
 * removes the very tokens it read.
 */
export function fingerprintOf(refreshToken: string): string {
  return createHash('sha256').update(refreshToken).digest('base64url').slice(0, 22);
}

/**
 * The id of the grant whose first refresh token this is: its fingerprint, so the sign-in that
 * received the grant and whoever later discards it arrive at the same id without passing anything
 * along.
 */
export function grantIdOf(firstRefreshToken: string): string {
  return fingerprintOf(firstRefreshToken);
}

/** Whether the access token is still good for at least `skewMs` more milliseconds. */
export function isFresh(creds: Pick<Credentials, 'expiresAt'>, skewMs: number, now = Date.now()): boolean {
  return creds.expiresAt - skewMs > now;
}

/**
 * Exactly the fields a store keeps, picked one by one: a `Credentials` passed in must not carry
 * its stale version (or anything else) into the store.
 */
export function storedFieldsOf(creds: NewCredentials): NewCredentials {
  return {
    accessToken: creds.accessToken,
    refreshToken: creds.refreshToken,
    expiresAt: creds.expiresAt,
    grantId: creds.grantId,
    ...(creds.scope !== undefined && { scope: creds.scope }),
    ...(creds.region !== undefined && { region: creds.region }),
    ...(creds.clientID !== undefined && { clientID: creds.clientID }),
  };
}
