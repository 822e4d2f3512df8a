import { setTimeout as sleep } from 'node:timers/promises';
import {
  ConfigurationError,
  ReauthorizationRequired,
  RefreshUnavailable,
  SamsaraError,
  StoreUnavailable,
  TokenRejectedError,
} from '../errors.js';
import { numberOption } from '../options.js';
import { OAuthClient, isTransient, oauthErrorOf, type OAuthClientOptions, type TokenSet } from '../oauth-client.js';
import { isFresh, type Credentials, type NewCredentials } from './credentials.js';
import { MemoryTokenStore, type TokenStore } from './store.js';

/**
 * Options of {@link TokenManager}.
 *
 * @example
 * ```ts
 * new TokenManager({ store, client: strategy.oauthClient, skew: 120_000 } satisfies TokenManagerOptions);
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
}

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
  readonly #inFlight = new Map<string, Promise<Credentials>>();
  /**
   * Refreshed credentials the store failed to take. The refresh already rotated the old refresh
   * token away, so these are the only copy of a working grant: the write is retried in the
   * background while the kept lock lasts, then on the next call for the key, until it lands or a
   * newer write makes it moot.
   */
  readonly #unsaved = new Map<string, Unsaved>();

  constructor(options: TokenManagerOptions = {}) {
    this.store = options.store ?? new MemoryTokenStore();
    this.client = options.client instanceof OAuthClient ? options.client : new OAuthClient(options.client);
    this.skew = options.skew ?? 60_000;
    this.lockTtl = numberOption('TokenManager', 'lockTtl', options.lockTtl, this.client.timeout + 10_000);
    this.waitTimeout = numberOption('TokenManager', 'waitTimeout', options.waitTimeout, this.lockTtl + 5_000);
    this.retries = options.retries ?? 2;
    this.retryDelay = numberOption('TokenManager', 'retryDelay', options.retryDelay, 200);
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
   * Revokes the grant at Samsara and deletes the credentials (a tombstone, so a refresh still in
   * flight cannot write them back). It first waits, up to `waitTimeout`, for a refresh in progress
   * to finish, so that it revokes the newest refresh token. When the revoke request fails the
   * credentials are deleted all the same and `RevokeFailed` is thrown.
   */
  async revoke(key: string): Promise<void> {
    const lock = await this.#acquire(key);
    let failure: unknown;
    try {
      const current = await this.#guard(() => this.store.get(key));
      if (!current) {
        // Nothing to revoke here, but a dead-grant tombstone must become final: a sign-out is
        // not to be undone by a late writer.
        await this.#guard(() => this.store.remove(key));
        return;
      }
      await this.client.revoke(current.refreshToken).catch((err: unknown) => {
        failure = err;
      });
      await this.#guard(() => this.store.remove(key));
    } finally {
      await lock?.release().catch(() => undefined);
    }
    if (failure) throw failure;
  }

  /** Retries the write of credentials a failed store could not take; null when there are none. */
  async #saveUnsaved(key: string): Promise<Credentials | null> {
    const unsaved = this.#unsaved.get(key);
    if (!unsaved) return null;
    const saved = await this.#guard(() => this.store.update(key, unsaved.creds, unsaved.expectedVersion));
    if (this.#unsaved.get(key) === unsaved) this.#unsaved.delete(key);
    return saved;
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
    const fresh: NewCredentials = {
      accessToken: set.accessToken,
      refreshToken: set.refreshToken,
      expiresAt: set.expiresAt,
      ...(set.scope ? { scope: set.scope } : {}),
    };
    let next: Credentials | null;
    try {
      next = await this.#guard(() => this.store.update(key, fresh, current.version));
    } catch (err) {
      // These are now the grant's only working tokens. Keep them, and keep the lock until it
      // expires, so no other process spends the rotated-out refresh token meanwhile.
      const unsaved = { creds: fresh, expectedVersion: current.version };
      this.#unsaved.set(key, unsaved);
      hold.keepLock = true;
      void this.#retryUnsaved(key, unsaved, lockedAt + this.lockTtl);
      throw err;
    }
    if (next) return next;
    // Lost the compare-and-set: our lock expired and someone wrote newer credentials, or the
    // credentials were removed. Theirs win; tokens nobody will keep are revoked.
    const latest = await this.#guard(() => this.store.get(key));
    if (latest) return latest;
    await this.client.revoke(set.refreshToken).catch(() => undefined);
    throw new ReauthorizationRequired(key, 'its credentials were removed while they were being refreshed');
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
  const oauthError = oauthErrorOf(err);
  if (oauthError) return new TokenRejectedError(oauthError, (err as Error).message);
  return err as Error;
}

interface Unsaved {
  creds: NewCredentials;
  expectedVersion: number;
}

/** Mean milliseconds between background retries of an unsaved write. */
const UNSAVED_RETRY = 250;

/** Time a token request needs beyond its own timeout before the lock ends: the write after it. */
const LOCK_MARGIN = 500;
