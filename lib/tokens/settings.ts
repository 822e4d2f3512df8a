import type { OAuthClient } from '../oauth-client.js';
import type { Issuer } from './clients.js';
import type { Clock } from './clock.js';
import type { GrantWebhooks } from './grant-webhooks.js';
import type { TokenStore } from './store.js';

/**
 * What one revoke request reaches at Samsara: see {@link TokenManagerOptions.revocation}.
 */
export type RevocationScope = 'organization' | 'grant';

/**
 * The manager's options, resolved and checked, as its parts (the keeper, the refresher) read
 * them: they are handed this object, never the manager.
 */
export interface ManagerSettings {
  readonly store: TokenStore;
  readonly clock: Clock;
  /** Refresh this many ms before expiry. */
  readonly skew: number;
  /** How long the refresh lock is held at most, in ms. */
  readonly lockTtl: number;
  /** The longest a caller waits for another process's refresh, in ms. */
  readonly waitTimeout: number;
  /** Extra token requests after a transient failure. */
  readonly retries: number;
  /** The first backoff between retries, in ms. */
  readonly retryDelay: number;
  readonly revocation: RevocationScope;
  /** Retired grants kept per organization. */
  readonly maxRetiredGrants: number;
  /** The client of the app that issued a grant (see `TokenManager.clientFor`). */
  clientFor(issuer: Issuer): OAuthClient;
  /** The organizations' webhooks, when the manager keeps them (its `webhooks` option). */
  readonly webhooks: GrantWebhooks | undefined;
}
