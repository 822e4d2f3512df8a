import type { SamsaraRegion } from '../endpoints.js';
import { ConfigurationError } from '../errors/index.js';
import { numberOption, type NumberRange } from '../number-option.js';
import type { OAuthClient, OAuthClientOptions } from '../oauth-client.js';
import { FleetRateLimiter, type FleetRateLimitOptions } from '../rate-limit/fleet.js';
// The one way up, for the public `tokens.forOrg`: sdk.ts (and the api.ts it uses) import nothing of
// lib/tokens, and know the manager only as `SamsaraApiTokens`, so no circle closes here.
// eslint-disable-next-line @typescript-eslint/no-restricted-imports
import { samsaraClientOptions, type ForOrgOptions, type SamsaraClientOptions } from '../sdk.js';
import { ClientRouter, type Issuer, type RegionClients } from './clients.js';
import { CredentialCache, type CredentialCacheOptions } from './credential-cache.js';
import { systemClock, type Clock } from './clock.js';
import {
  grantIdOf,
  grantTokensOf,
  type Credentials,
  type GrantTokens,
  type NewCredentials,
  type TokenResponse,
} from './credentials.js';
import type { GrantWebhooks, GrantWebhooksFactory } from './grant-webhooks.js';
import { GrantKeeper } from './keeper.js';
import { Lifecycle, type LifecycleHooks } from './lifecycle.js';
import { Refresher } from './refresher.js';
import type { ManagerSettings, RevocationScope } from './settings.js';
import { guarded } from './store-failure.js';
import { MemoryTokenStore } from './memory-store.js';
import { SingleFlight } from './single-flight.js';
import type { OrganizationStatus, TokenStore } from './store.js';

/**
 * Options of {@link TokenManager}.
 *
 * @example
 * ```ts
 * new TokenManager({ store, client: { region: 'eu' }, skew: 120_000 });
 * ```
 */
export interface TokenManagerOptions extends LifecycleHooks {
  /** Where credentials live. Default: a `MemoryTokenStore` (one process only). */
  store?: TokenStore;
  /** The token endpoint client, or the options to make one (default: from the environment). */
  client?: OAuthClient | OAuthClientOptions;
  /**
   * One OAuth app per region, instead of `client`: Samsara's US and EU clouds each have their own
   * apps. A grant remembers the region whose app issued it, and its refreshes, revokes and API
   * calls go to that region. The default client (grants that name no region) is `us`'s, if any.
   */
  clients?: RegionClients;
  /** Refresh this many ms before expiry. Default 60 000. */
  skew?: number;
  /**
   * How long the refresh lock is held at most, in ms. Must exceed the client's `timeout`: a holder
   * never starts a token request its lock would not outlive. Default: `timeout` + 10 000.
   */
  lockTtl?: number;
  /** The longest a caller waits for another process's refresh, in ms. Default: `lockTtl` + 5 000. */
  waitTimeout?: number;
  /** Extra token requests after a transient failure (timeout, network, 5xx). Default 2. */
  retries?: number;
  /** The first backoff between retries, in ms (doubled each time, jittered). Default 200. */
  retryDelay?: number;
  /**
   * What one revoke reaches at Samsara, which Samsara does not document for certain.
   * `'organization'` (the default, the safe reading): every grant of the organization, so a
   * grant the app will not use is retired rather than revoked (revoking it would end the grant
   * the app keeps) and waits for Disconnect. `'grant'` (RFC 7009): only that grant's tokens, so
   * such grants are revoked at once and at most one grant per organization is live.
   */
  revocation?: RevocationScope;
  /** Retired grants kept per organization; past it the oldest is dropped. Default 10. */
  maxRetiredGrants?: number;
  /**
   * Keeps unsealed credentials in memory between calls, so that the hot path reads the store only
   * once per `maxAge` per organization, when the store tells its changes (`RedisTokenStore` does,
   * by pub/sub; a store without `watch` is read on every call). An entry is dropped at every change
   * any process makes to the organization's credentials, all of them while the notifications are
   * down, and it is never served once the token is due for refresh (`expiresAt - skew`), nor to a
   * caller whose token was just rejected. `false` turns it off. Default `{ maxAge: 1000, maxEntries: 1000 }`.
   */
  cache?: CredentialCacheOptions | false;
  /** Where the manager reads the time and waits. Default: the system clock. */
  clock?: Clock;
  /**
   * One webhook per connected organization, kept by the grant's lifecycle: `organizationWebhooks({ url })`
   * (see docs/webhooks.md). Created (or found) at every sign-in, deleted before Disconnect
   * revokes, repaired by `tokens.webhooks.reconcile()`. Default: none.
   */
  webhooks?: GrantWebhooksFactory;
  /**
   * The fleet-wide rate limiter every call to Samsara's API goes through (`forOrg`,
   * `req.samsara.fetch`, `callSamsara`): each organization's requests leave evenly spaced within
   * Samsara's documented limits, across every process that shares the token store's Redis or
   * Postgres (one process's memory for other stores), and a 429 that still arrives slows the
   * organization down for all of them. Default: on, with Samsara's limits; `false` turns it off.
   */
  rateLimit?: FleetRateLimitOptions | false;
}

export type { RevocationScope } from './settings.js';

/**
 * Options of one {@link TokenManager.credentials} call.
 *
 * @example
 * ```ts
 * const token = await tokens.accessToken(orgId, { rejected: tokenThatGot401 });
 * ```
 */
export interface AccessOptions {
  /** An access token the API has just rejected (401): refresh unless the store already moved on. */
  rejected?: string;
}

/**
 * Owns an organization's grants: stores them at sign-in (`connect`), keeps each access token
 * fresh, and revokes them (`revoke`). The strategy, the Express middleware and background jobs
 * all share one manager, and with it one store and one OAuth client.
 *
 * Keeps each organization's access token fresh. The hot path is one store read. Near expiry,
 * exactly one caller per key in this process (single-flight), and one process across a fleet (the
 * store's lock), calls the token endpoint; the others wait for its result, or keep using the old
 * token while it is still valid. New credentials are written with compare-and-set, so a late
 * writer can never overwrite newer ones. With Samsara's rotating refresh tokens a refresh without
 * the lock could kill the grant, so there is none: a store that cannot lock fails the call.
 *
 * @example
 * ```ts
 * const tokens = new TokenManager({ store: new RedisTokenStore({ client: redis }) });
 * passport.use(new SamsaraStrategy({ tokens }));
 * const accessToken = await tokens.accessToken('1001');
 * await fetch('https://api.samsara.com/fleet/vehicles', { headers: { authorization: `Bearer ${accessToken}` } });
 * ```
 *
 * @throws `ConfigurationError` from the constructor for an option out of range, or a `lockTtl`
 * that a token request could outlive.
 */
export class TokenManager {
  readonly store: TokenStore;
  /** The default client: the one a grant that names no region is refreshed with. */
  readonly client: OAuthClient;
  /** Every client, by region. */
  readonly clients: ReadonlyMap<SamsaraRegion, OAuthClient>;
  readonly clock: Clock;
  /** The organizations' webhooks, when the `webhooks` option keeps them: `reconcile()` repairs their drift. */
  readonly webhooks: GrantWebhooks | undefined;
  /** The fleet-wide rate limiter; undefined with `rateLimit: false`. */
  readonly rateLimiter: FleetRateLimiter | undefined;
  readonly #router: ClientRouter;
  readonly #keeper: GrantKeeper;
  readonly #refresher: Refresher;
  readonly #cache: CredentialCache | undefined;
  /** A sign-in's connect in progress per grant: a verify that connects it while the strategy does writes once. */
  readonly #connects = new SingleFlight<Credentials>();
  /** Work that outlives the call that started it (see {@link TokenManager.idle}). */
  readonly #background = new Set<Promise<unknown>>();

  constructor(options: TokenManagerOptions = {}) {
    this.store = options.store ?? new MemoryTokenStore({ clock: options.clock });
    this.#router = new ClientRouter(options.client, options.clients);
    this.client = this.#router.default;
    this.clients = this.#router.byRegion;
    this.clock = options.clock ?? systemClock;
    const timeout = this.#router.maxTimeout;
    const option = (name: string, value: number | undefined, fallback: number, range?: NumberRange): number =>
      numberOption('TokenManager', name, value, fallback, range);
    const lockTtl = option('lockTtl', options.lockTtl, timeout + 10_000);
    const revocation = options.revocation ?? 'organization';
    // Checked at run time too: a JavaScript caller's option is whatever it wrote.
    if (!(REVOCATION_SCOPES as readonly string[]).includes(revocation)) {
      throw new ConfigurationError(
        `TokenManager option revocation must be 'organization' or 'grant', not ${JSON.stringify(revocation)}.`,
      );
    }
    if (lockTtl < timeout + 1_000) {
      throw new ConfigurationError(
        `lockTtl (${lockTtl} ms) must exceed the token request timeout (${timeout} ms) by at least 1 s, or a slow refresh would outlive its lock.`,
      );
    }
    const router = this.#router;
    // Its factory reads only the store and the clock now, and the rest of the manager later.
    this.webhooks = options.webhooks?.(this);
    const settings: ManagerSettings = {
      store: this.store,
      clock: this.clock,
      skew: option('skew', options.skew, 60_000, { min: 0 }),
      lockTtl,
      waitTimeout: option('waitTimeout', options.waitTimeout, lockTtl + 5_000),
      retries: option('retries', options.retries, 2, { min: 0, max: 10, integer: true }),
      retryDelay: option('retryDelay', options.retryDelay, 200),
      revocation,
      maxRetiredGrants: option('maxRetiredGrants', options.maxRetiredGrants, 10, { min: 1, max: 100, integer: true }),
      clientFor: (issuer) => router.for(issuer),
      webhooks: this.webhooks,
    };
    this.rateLimiter =
      options.rateLimit === false
        ? undefined
        : new FleetRateLimiter(options.rateLimit ?? {}, this.store, () => this.clock.now());
    this.#keeper = new GrantKeeper(settings, new Lifecycle(options));
    this.#cache = this.#cacheOf(options.cache, option);
    this.#refresher = new Refresher(settings, this.#keeper, (work) => void this.#track(work), this.#cache);
  }

  /**
   * A valid access token for `key`, refreshed first when it is about to expire.
   *
   * @param key - the organization's id (the `orgId` the grant was connected under).
   * @param options - `rejected`: a token the API has just answered 401 for, to refresh past it.
   * @throws `ReauthorizationRequiredError` (401) when the organization has no live grant: sign in again.
   * @throws `StoreUnavailableError` or `RefreshUnavailableError` (503) for a store or token endpoint
   * that is down: retry after their `retryAfter`.
   */
  accessToken(key: string, options: AccessOptions = {}): Promise<string> {
    // A `then`, not an async function: a frame less on the heap for every caller that waits.
    return this.credentials(key, options).then(accessTokenOf);
  }

  /** The fresh credentials of `key`; see {@link TokenManager.accessToken}. */
  credentials(key: string, options: AccessOptions = {}): Promise<Credentials> {
    return this.#refresher.credentials(key, options.rejected);
  }

  /**
   * Stores a grant the organization just gave (a sign-in) as its current credentials and returns
   * them, then tells `onConnect`. The grant it replaces is not forgotten: it is retired, and with
   * `revocation: 'grant'` revoked at once. A grant already connected (`SamsaraStrategy` connects
   * every grant its verify accepts, so a verify that connects it too is harmless) is not written
   * again. Takes the token endpoint's answer in either shape: `GrantTokens` (camelCase) or
   * passport's `params` (`access_token`, `refresh_token`, `expires_at`).
   *
   * @returns the credentials now current for `key`.
   * @throws `ConfigurationError` for a grant of a region the manager has no client for, and
   * `StoreUnavailableError` when the store cannot take it.
   */
  async connect(key: string, tokens: GrantTokens | TokenResponse): Promise<Credentials> {
    const grant = this.#newGrant(tokens);
    return this.#connects.run(`${key}\n${grant.grantId}`, async () => {
      const written = (): void => this.#refresher.wrote(key);
      try {
        return await this.#keeper.connect(key, grant, written);
      } finally {
        // Again when it failed: a write that timed out may have landed all the same.
        written();
      }
    });
  }

  /**
   * Lets go of a grant the app received but will not keep (a sign-in its verify refused, or
   * that failed after the code exchange). It is revoked, unless revoking could end a grant the
   * organization keeps (`revocation: 'organization'` and another grant is kept): then it is
   * retired beside that one until Disconnect. `key` undefined (the organization never became
   * known): revoked. A store that is down is retried for a while, then the grant is revoked.
   */
  async discard(key: string | undefined, tokens: GrantTokens | TokenResponse): Promise<void> {
    return this.#track(this.#keeper.discard(key, this.#newGrant(tokens)));
  }

  /**
   * Disconnect: revokes every grant the app holds for `key` at Samsara (the current one and the
   * retired ones), then forgets exactly those, leaving a final tombstone, so a refresh in flight
   * cannot write them back and a sign-in that raced the revoke keeps its new grant. It first
   * waits, up to `waitTimeout`, for a refresh in progress, so that it revokes the newest refresh
   * token. A grant whose revoke fails is kept (still working, still connected) and
   * `RevokeFailedError` is thrown: call `revoke` again. Once every grant it held is revoked, it
   * tells `onDisconnect`. With the `webhooks` option, it first deletes the organization's
   * webhook.
   *
   * @throws `RevokeFailedError` (502) when Samsara did not confirm a revoke; `WebhookUpkeepError`
   * when Samsara failed the webhook's deletion (nothing is revoked then); `StoreUnavailableError`.
   */
  async revoke(key: string): Promise<void> {
    // Before the revoke: once the grant is dead, nothing can delete the webhook any more.
    const webhook = await this.webhooks?.disconnecting(key);
    const lock = await this.#refresher.lockForRevoke(key);
    let result: Awaited<ReturnType<GrantKeeper['disconnect']>>;
    try {
      const newest = this.#refresher.unsaved(key);
      result = await this.#keeper.disconnect(key, newest);
      if (newest && result.isRevoked(newest)) this.#refresher.settled(key, newest);
    } finally {
      this.#refresher.wrote(key);
      await lock?.release().catch(() => undefined);
    }
    if (result.failure) throw result.failure;
    // Nothing held (a second Disconnect, another process's): nothing happened to tell.
    if (result.revoked.length > 0) {
      await this.#keeper.lifecycle.tell('onDisconnect', {
        orgId: key,
        reason: 'revoked',
        grants: result.revoked.length,
        ...(webhook && { webhook }),
      });
    }
  }

  /**
   * Adds lifecycle hooks beside the ones given as options (`createSamsaraApp` adds its own this
   * way); the function returned takes them out again. See {@link LifecycleHooks}.
   *
   * @example
   * ```ts
   * const stop = tokens.addHooks({ onDisconnect: ({ orgId }) => cache.delete(orgId) });
   * ```
   */
  addHooks(hooks: LifecycleHooks): () => void {
    return this.#keeper.lifecycle.add(hooks);
  }

  /**
   * The client of the app that issued a grant: its region's (the default client for a grant that
   * names no region).
   *
   * @throws `ConfigurationError` when the manager has no client for that region, or its client id
   * is not the one that issued the grant.
   */
  clientFor(issuer: Issuer): OAuthClient {
    return this.#router.for(issuer);
  }

  /**
   * Every connected organization (a current grant in the store) with its status: expiry, version,
   * when it was last written, region. Never a token. Streamed from the store (Redis: SCAN over
   * every master, never KEYS), so memory does not grow with their number; a store failure is
   * `StoreUnavailableError`.
   *
   * @example
   * ```ts
   * for await (const org of tokens.organizations()) {
   *   if (org.expiresAt < Date.now()) console.log(`${org.orgId} (${org.region}) will refresh on its next call`);
   * }
   * ```
   */
  async *organizations(): AsyncGenerator<OrganizationStatus> {
    const iterator = this.store.list()[Symbol.asyncIterator]();
    for (;;) {
      const next = await guarded('list', () => iterator.next());
      if (next.done) return;
      yield next.value;
    }
  }

  /**
   * Samsara's official SDK, plugged in: `new SamsaraClient(tokens.forOrg(orgId))`. A fresh token
   * before every request and page (this package's errors, `ReauthorizationRequiredError` first,
   * thrown as they are), the organization's region's base URL, and a `fetch` that replays a 401
   * after a forced refresh and waits out fractional `Retry-After`s (see {@link SamsaraClientOptions}).
   *
   * @example
   * ```ts
   * import { SamsaraClient } from '@samsarahq/samsara';
   *
   * const client = new SamsaraClient(tokens.forOrg(orgId));
   * for await (const vehicle of await client.vehicles.list({ limit: 100 })) console.log(vehicle.name);
   * ```
   */
  forOrg(key: string, options: ForOrgOptions = {}): SamsaraClientOptions {
    return samsaraClientOptions(this, key, options);
  }

  /**
   * Resolves once the work this manager does in the background has finished: retried writes of
   * refreshed credentials, and discarded grants waiting for the store. For tests and shutdown.
   */
  async idle(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  /**
   * A grant just received: its tokens, named by the id every later holder will arrive at, and
   * the app that issued it (its region's client: an unknown region fails here, before storing).
   */
  #newGrant(tokens: GrantTokens | TokenResponse): NewCredentials {
    const granted = grantTokensOf(tokens);
    const client = this.#router.for({ region: granted.region });
    return { ...granted, region: client.region, clientID: client.clientID, grantId: grantIdOf(granted.refreshToken) };
  }

  /**
   * Stops watching the store for changes and drops the credentials kept in memory (see `cache`);
   * later calls read the store each time. For a manager dropped while its store lives on (one per
   * tenant, per test): `store.close()` ends every watch of the store anyway.
   *
   * @example
   * ```ts
   * await tokens.idle();
   * tokens.close();
   * await store.close();
   * ```
   */
  close(): void {
    this.#cache?.close();
  }

  /** The credential cache, when it is wanted and the store tells its changes. */
  #cacheOf(
    options: CredentialCacheOptions | false | undefined,
    option: (name: string, value: number | undefined, fallback: number, range?: NumberRange) => number,
  ): CredentialCache | undefined {
    const { store } = this;
    const watch = store.watch?.bind(store);
    if (options === false || !watch) return undefined;
    const maxAge = option('cache.maxAge', options?.maxAge, 1000, { min: 0, max: 60_000 });
    const maxEntries = option('cache.maxEntries', options?.maxEntries, 1000, { min: 1, max: 1_000_000, integer: true });
    if (maxAge === 0) return undefined;
    return new CredentialCache(watch, { clock: this.clock, maxAge, maxEntries });
  }

  /** `work`, tracked until it settles for {@link TokenManager.idle}. */
  #track<T>(work: Promise<T>): Promise<T> {
    const untrack = (): void => void this.#background.delete(tracked);
    const tracked: Promise<void> = work.then(untrack, untrack);
    this.#background.add(tracked);
    return work;
  }
}

const REVOCATION_SCOPES: readonly RevocationScope[] = ['organization', 'grant'];

const accessTokenOf = (creds: Credentials): string => creds.accessToken;
