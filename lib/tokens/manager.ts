import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigurationError, ReauthorizationRequired, RefreshUnavailable, SamsaraError, StoreUnavailable } from '../errors.js';
import { numberOption } from '../options.js';
import { OAuthClient, isTransient, oauthErrorOf, type OAuthClientOptions, type TokenSet } from '../oauth-client.js';
import {
  grantIdOf,
  grantTokensOf,
  isFresh,
  type Credentials,
  type GrantTokens,
  type NewCredentials,
  type TokenResponse,
} from './credentials.js';
import { MemoryTokenStore, type TokenStore } from './store.js';

/**
 * Options of {@link TokenManager}.
 *
 * @example
 * ```ts
 * new TokenManager({ store, client: { region: 'eu' }, skew: 120_000 } satisfies TokenManagerOptions);
 * ```
 */
export interface TokenManagerOptions {
  /** Where credentials live. Default: a `MemoryTokenStore` (one process only). */
  store?: TokenStore;
  /** The token endpoint client, or the options to make one (default: from the environment). */
  client?: OAuthClient | OAuthClientOptions;
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
}

/**
 * What one revoke request reaches at Samsara: see {@link TokenManagerOptions.revocation}.
 *
 * @example
 * ```ts
 * new TokenManager({ store, revocation: 'grant' satisfies RevocationScope });
 * ```
 */
export type RevocationScope = 'organization' | 'grant';

/**
 * Options of one {@link TokenManager.credentials} call.
 *
 * @example
 * ```ts
 * const token = await tokens.accessToken(orgId, { rejected: tokenThatGot401 } satisfies AccessOptions);
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
 */
export class TokenManager {
  readonly store: TokenStore;
  readonly client: OAuthClient;
  readonly skew: number;
  readonly lockTtl: number;
  readonly waitTimeout: number;
  readonly retries: number;
  readonly retryDelay: number;
  readonly revocation: RevocationScope;
  readonly maxRetiredGrants: number;
  readonly #inFlight = new Map<string, Promise<Credentials>>();
  /**
   * Refreshed credentials the store failed to take. The refresh already rotated the old refresh
   * token away, so these are the only copy of a working grant: the write is retried in the
   * background while the kept lock lasts, then on the next call for the key, until it lands or a
   * newer write makes it moot.
   */
  readonly #unsaved = new Map<string, Unsaved>();
  /** Work that outlives the call that started it (see {@link TokenManager.idle}). */
  readonly #background = new Set<Promise<unknown>>();

  constructor(options: TokenManagerOptions = {}) {
    this.store = options.store ?? new MemoryTokenStore();
    this.client = options.client instanceof OAuthClient ? options.client : new OAuthClient(options.client);
    const option = (name: string, value: number | undefined, fallback: number, range?: Parameters<typeof numberOption>[4]) =>
      numberOption('TokenManager', name, value, fallback, range);
    this.skew = option('skew', options.skew, 60_000, { min: 0 });
    this.lockTtl = option('lockTtl', options.lockTtl, this.client.timeout + 10_000);
    this.waitTimeout = option('waitTimeout', options.waitTimeout, this.lockTtl + 5_000);
    this.retries = option('retries', options.retries, 2, { min: 0, max: 10, integer: true });
    this.retryDelay = option('retryDelay', options.retryDelay, 200);
    this.maxRetiredGrants = option('maxRetiredGrants', options.maxRetiredGrants, 10, { min: 1, max: 100, integer: true });
    this.revocation = options.revocation ?? 'organization';
    if (this.revocation !== 'organization' && this.revocation !== 'grant') {
      throw new ConfigurationError(`TokenManager option revocation must be 'organization' or 'grant', not ${String(this.revocation)}.`);
    }
    if (this.lockTtl < this.client.timeout + 1_000) {
      throw new ConfigurationError(
        `lockTtl (${this.lockTtl} ms) must exceed the token request timeout (${this.client.timeout} ms) by at least 1 s, or a slow refresh would outlive its lock.`,
      );
    }
  }

  /**
   * A valid access token for `key`, refreshed first when it is about to expire.
   * Throws `ReauthorizationRequired` (401), `StoreUnavailable` or `RefreshUnavailable` (503).
   */
  async accessToken(key: string, options: AccessOptions = {}): Promise<string> {
    return (await this.credentials(key, options)).accessToken;
  }

  /** The fresh credentials of `key`; see {@link TokenManager.accessToken}. */
  async credentials(key: string, options: AccessOptions = {}): Promise<Credentials> {
    const saved = await this.#saveUnsaved(key);
    const current = saved ?? (await this.#read(key));
    if (!this.#needsRefresh(current, options.rejected)) return current;
    const refreshed = await this.#join(key, current, options.rejected);
    // A flight started by a caller that could make do with the old token may bring back the very
    // token this caller saw rejected: then it needs a flight of its own.
    return refreshed.accessToken === options.rejected ? this.#join(key, refreshed, options.rejected) : refreshed;
  }

  /** The refresh in flight for `key` in this process, or a new one. */
  #join(key: string, current: Credentials, rejected: string | undefined): Promise<Credentials> {
    let flight = this.#inFlight.get(key);
    if (!flight) {
      flight = this.#refresh(key, current, rejected).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, flight);
    }
    return flight;
  }

  /**
   * Stores a grant the organization just gave (a sign-in) as its current credentials and returns
   * them. The grant it replaces is not forgotten: it is retired, and with `revocation: 'grant'`
   * revoked at once. Takes the token endpoint's answer in either shape: `GrantTokens` (camelCase)
   * or passport's `params` (`access_token`, `refresh_token`, `expires_at`).
   */
  async connect(key: string, tokens: GrantTokens | TokenResponse): Promise<Credentials> {
    const creds = newGrant(tokens);
    const stored = await this.#guard(() => this.store.replace(key, creds, this.maxRetiredGrants));
    if (this.revocation === 'grant') await this.#revokeRetired(key);
    return stored;
  }

  /**
   * Lets go of a grant the app received but will not keep (a sign-in its verify refused, or
   * that failed after the code exchange). It is revoked, unless revoking could end a grant the
   * organization keeps (`revocation: 'organization'` and another grant is kept): then it is
   * retired beside that one until Disconnect. `key` undefined (the organization never became
   * known): revoked. A store that is down is retried for a while, then the grant is revoked.
   */
  discard(key: string | undefined, tokens: GrantTokens | TokenResponse): Promise<void> {
    return this.#track(this.#discard(key, newGrant(tokens)));
  }

  async #discard(key: string | undefined, creds: NewCredentials): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#letGo(key, creds);
        return;
      } catch (err) {
        if (!(err instanceof StoreUnavailable)) throw err;
        // Nothing may stay live that no one holds: past the retries, revoke.
        if (attempt >= DISCARD_RETRIES) return this.client.revoke(creds.refreshToken);
        await sleep(this.retryDelay * 2 ** attempt * (0.5 + Math.random()));
      }
    }
  }

  /**
   * Disconnect: revokes every grant the app holds for `key` at Samsara (the current one and the
   * retired ones), then forgets exactly those, leaving a final tombstone, so a refresh in flight
   * cannot write them back and a sign-in that raced the revoke keeps its new grant. It first
   * waits, up to `waitTimeout`, for a refresh in progress, so that it revokes the newest refresh
   * token. A grant whose revoke fails is kept (still working, still connected) and
   * `RevokeFailed` is thrown: call `revoke` again.
   */
  async revoke(key: string): Promise<void> {
    const lock = await this.#acquire(key);
    let failure: unknown;
    try {
      const current = await this.#guard(() => this.store.get(key));
      const newest = this.#unsaved.get(key)?.creds;
      const grants = [...(current ? [newest?.grantId === current.grantId ? newest : current] : [])];
      grants.push(...(await this.#guard(() => this.store.retired(key))));
      const revoked: string[] = [];
      for (const grant of grants) {
        await this.client.revoke(grant.refreshToken).then(
          () => revoked.push(grant.grantId),
          (err: unknown) => (failure ??= err),
        );
      }
      await this.#guard(() => this.store.forget(key, revoked));
      if (newest && revoked.includes(newest.grantId)) this.#unsaved.delete(key);
    } finally {
      await lock?.release().catch(() => undefined);
    }
    if (failure) throw failure;
  }

  /**
   * Resolves once the work this manager does in the background has finished: retried writes of
   * refreshed credentials, and discarded grants waiting for the store. For tests and shutdown.
   */
  async idle(): Promise<void> {
    while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
  }

  /** `work`, tracked until it settles for {@link TokenManager.idle}. */
  #track<T>(work: Promise<T>): Promise<T> {
    const untrack = (): void => void this.#background.delete(tracked);
    const tracked: Promise<void> = work.then(untrack, untrack);
    this.#background.add(tracked);
    return work;
  }

  /**
   * A grant the app holds but will not use: revoked when that cannot end a kept grant, else
   * retired; kept (retired) too when its revoke fails, so that Disconnect can try again.
   */
  async #letGo(key: string | undefined, creds: NewCredentials): Promise<void> {
    if (key !== undefined) {
      // A write that timed out may still have landed (the store queued it): a grant that became
      // current after all is kept, never revoked.
      const kept =
        this.revocation === 'organization'
          ? await this.#guard(() => this.store.retire(key, creds, this.maxRetiredGrants, true))
          : (await this.#guard(() => this.store.get(key)))?.grantId === creds.grantId;
      if (kept) {
        // It replaced a grant after all, and the sign-in that would have revoked that one failed.
        if (this.revocation === 'grant') await this.#revokeRetired(key);
        return;
      }
    }
    try {
      await this.client.revoke(creds.refreshToken);
    } catch (err) {
      if (key === undefined) throw err;
      await this.#guard(() => this.store.retire(key, creds, this.maxRetiredGrants, false));
    }
  }

  /** Per-grant revocation: the retired grants of `key` are revoked and forgotten; failures stay. */
  async #revokeRetired(key: string): Promise<void> {
    const revoked: string[] = [];
    for (const grant of await this.#guard(() => this.store.retired(key))) {
      await this.client.revoke(grant.refreshToken).then(
        () => revoked.push(grant.grantId),
        () => undefined,
      );
    }
    if (revoked.length > 0) await this.#guard(() => this.store.forget(key, revoked));
  }

  /**
   * Writes refreshed credentials with compare-and-set. When another write came first, theirs
   * win, and ours are not dropped: the same grant's newer tokens make ours moot; a different
   * grant's (a sign-in meanwhile) leaves ours to be retired or revoked.
   */
  async #keep(key: string, fresh: NewCredentials, expectedVersion: number): Promise<Credentials> {
    const next = await this.#guard(() => this.store.update(key, fresh, expectedVersion));
    if (next) return next;
    const latest = await this.#guard(() => this.store.get(key));
    if (latest?.grantId === fresh.grantId) return latest;
    await this.#letGo(key, fresh);
    if (latest) return latest;
    throw new ReauthorizationRequired(key, 'its credentials were removed while they were being refreshed');
  }

  /** Retries the write of credentials a failed store could not take; null when there are none. */
  async #saveUnsaved(key: string): Promise<Credentials | null> {
    const unsaved = this.#unsaved.get(key);
    if (!unsaved) return null;
    const settle = (): void => {
      if (this.#unsaved.get(key) === unsaved) this.#unsaved.delete(key);
    };
    try {
      const saved = await this.#keep(key, unsaved.creds, unsaved.expectedVersion);
      settle();
      return saved;
    } catch (err) {
      // The store is still down: they stay unsaved. Anything else settled their fate.
      if (!(err instanceof StoreUnavailable)) settle();
      throw err;
    }
  }

  /**
   * Retries an unsaved write in the background until the kept lock runs out: after that another
   * process may spend the rotated-out refresh token. Errors are the next caller's to see.
   */
  async #retryUnsaved(key: string, unsaved: Unsaved, until: number): Promise<void> {
    while (this.#unsaved.get(key) === unsaved && Date.now() + UNSAVED_RETRY < until) {
      await sleep(UNSAVED_RETRY * (0.5 + Math.random()));
      await this.#saveUnsaved(key).catch(() => undefined);
    }
  }

  async #read(key: string): Promise<Credentials> {
    const creds = await this.#guard(() => this.store.get(key));
    if (!creds) throw new ReauthorizationRequired(key, 'no Samsara credentials are stored for it');
    return creds;
  }

  #needsRefresh(creds: Credentials, rejected: string | undefined): boolean {
    return creds.accessToken === rejected || !isFresh(creds, this.skew);
  }

  async #refresh(key: string, seen: Credentials, rejected: string | undefined): Promise<Credentials> {
    const deadline = Date.now() + this.waitTimeout;
    for (;;) {
      const lockedAt = Date.now();
      const lock = await this.#guard(() => this.store.lock(key, this.lockTtl));
      if (lock) {
        const hold = { keepLock: false };
        try {
          return await this.#refreshHolding(key, lockedAt, rejected, hold);
        } finally {
          if (!hold.keepLock) await lock.release().catch(() => undefined);
        }
      }
      // Someone else is refreshing. A token that still works is served meanwhile.
      if (rejected === undefined && seen.expiresAt > Date.now()) return seen;
      await this.#guard(() => this.store.waitForChange(key, seen.version, deadline));
      const latest = await this.#read(key);
      if (!this.#needsRefresh(latest, rejected)) return latest;
      if (Date.now() >= deadline) {
        throw new RefreshUnavailable(
          `Another process held the refresh lock for this Samsara organization past the ${this.waitTimeout} ms wait.`,
          { retryAfter: Math.ceil(this.lockTtl / 1000) },
        );
      }
      seen = latest;
    }
  }

  async #refreshHolding(
    key: string,
    lockedAt: number,
    rejected: string | undefined,
    hold: { keepLock: boolean },
  ): Promise<Credentials> {
    // Re-read under the lock: another process may have refreshed while we queued for it.
    const current = await this.#read(key);
    if (!this.#needsRefresh(current, rejected)) return current;
    let set: TokenSet;
    try {
      set = await this.#requestRefresh(current.refreshToken, lockedAt);
    } catch (err) {
      if (oauthErrorOf(err) === 'invalid_grant') return this.#onInvalidGrant(key, current, err);
      // The token endpoint failed: a token that has not expired yet still serves.
      if (current.accessToken !== rejected && current.expiresAt > Date.now()) return current;
      throw refreshFailure(err);
    }
    const fresh: NewCredentials = { ...grantTokensOf(set), grantId: current.grantId };
    try {
      return await this.#keep(key, fresh, current.version);
    } catch (err) {
      if (!(err instanceof StoreUnavailable)) throw err;
      // These are now the grant's only working tokens. Keep them, and keep the lock until it
      // expires, so no other process spends the rotated-out refresh token meanwhile.
      const unsaved = { creds: fresh, expectedVersion: current.version };
      this.#unsaved.set(key, unsaved);
      hold.keepLock = true;
      void this.#track(this.#retryUnsaved(key, unsaved, lockedAt + this.lockTtl));
      throw err;
    }
  }

  /** The token request with bounded retries, none of which may outlive the lock. */
  async #requestRefresh(refreshToken: string, lockedAt: number): Promise<TokenSet> {
    for (let attempt = 0; ; attempt++) {
      if (lockedAt + this.lockTtl - Date.now() < this.client.timeout + LOCK_MARGIN) {
        throw new RefreshUnavailable('The refresh lock would expire before a token request could finish; not sending one.');
      }
      try {
        return await this.client.refresh(refreshToken);
      } catch (err) {
        if (!isTransient(err) || attempt >= this.retries) throw err;
        await sleep(this.retryDelay * 2 ** attempt * (0.5 + Math.random()));
      }
    }
  }

  async #onInvalidGrant(key: string, current: Credentials, cause: unknown): Promise<Credentials> {
    const latest = await this.#guard(() => this.store.get(key));
    // Another writer rotated first (a late lock holder, a fresh sign-in): use theirs.
    if (latest && latest.version !== current.version) return latest;
    // A conditional remove: a late writer holding this grant's next tokens may still land.
    if (!(await this.#guard(() => this.store.remove(key, current.version)))) {
      const written = await this.#guard(() => this.store.get(key));
      if (written) return written;
    }
    throw new ReauthorizationRequired(
      key,
      'Samsara rejected its refresh token (invalid_grant); the grant was revoked or the app uninstalled',
      { cause },
    );
  }

  /** The lock for a revoke: waits out a refresh in progress, then takes it (or goes on without). */
  async #acquire(key: string) {
    const deadline = Date.now() + this.waitTimeout;
    for (;;) {
      const lock = await this.#guard(() => this.store.lock(key, this.lockTtl));
      if (lock || Date.now() >= deadline) return lock;
      const current = await this.#guard(() => this.store.get(key));
      if (!current) return null; // nothing left to revoke
      await this.#guard(() => this.store.waitForChange(key, current.version, deadline));
    }
  }

  async #guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      if (err instanceof SamsaraError) throw err;
      throw new StoreUnavailable(`The token store failed: ${(err as Error)?.message ?? 'unknown error'}`, { cause: err });
    }
  }
}

function refreshFailure(err: unknown): Error {
  if (err instanceof RefreshUnavailable) return err;
  if (isTransient(err)) {
    return new RefreshUnavailable(`Refreshing the Samsara access token failed: ${(err as Error).message}`, { cause: err });
  }
  return err as Error;
}

/** A grant just received: its tokens, named by the id every later holder will arrive at. */
function newGrant(tokens: GrantTokens | TokenResponse): NewCredentials {
  const granted = grantTokensOf(tokens);
  return { ...granted, grantId: grantIdOf(granted.refreshToken) };
}

interface Unsaved {
  creds: NewCredentials;
  expectedVersion: number;
}

/** Store retries of a discarded grant's fate before it is revoked regardless. */
const DISCARD_RETRIES = 6;

/** Mean milliseconds between background retries of an unsaved write. */
const UNSAVED_RETRY = 250;

/** Time a token request needs beyond its own timeout before the lock ends: the write after it. */
const LOCK_MARGIN = 500;
