import { EventEmitter } from 'node:events';
import type { SamsaraRegion } from '../endpoints.js';
import { systemClock, type Clock } from './clock.js';
import { storedFieldsOf, type Credentials, type NewCredentials } from './credentials.js';

/**
 * A held lock. `release()` deletes it only if it is still this holder's (compare-and-delete), so a
 * holder that outlived its ttl cannot free someone else's lock.
 *
 * @example
 * ```ts
 * const lock = await store.lock('1001', 20_000);
 * if (lock) {
 *   try {
 *     await refreshUnderLock();
 *   } finally {
 *     await lock.release();
 *   }
 * }
 * ```
 */
export interface LockHandle {
  release(): Promise<void>;
  /**
   * Optional: the key's current credentials (null: none) as they stood when the lock was taken,
   * read in the same atomic step. A store that gives them saves the holder its read under the lock.
   */
  readonly current?: Credentials | null;
}

/**
 * A connected organization as a store lists it: what can be said of its current grant without a
 * token. A key with no current grant (never written, signed out, found dead) is not listed.
 *
 * @example
 * ```ts
 * for await (const org of tokens.organizations()) {
 *   console.log(org.orgId, org.region, new Date(org.expiresAt), new Date(org.writtenAt));
 * }
 * ```
 */
export interface OrganizationStatus {
  /** The token store key: the organization id, unless a verify of your own keyed it otherwise. */
  orgId: string;
  /** The current grant's id (a hash: it names the grant, it reveals no token). */
  grantId: string;
  /** When the current access token expires, in ms since the epoch. */
  expiresAt: number;
  /** The store's version of the credentials (grows on every write). */
  version: number;
  /** When the credentials were last written (a sign-in or a refresh), in ms since the epoch; 0 if unknown. */
  writtenAt: number;
  /** The region whose OAuth app issued the grant, when the store knows it. */
  region?: SamsaraRegion;
  /** The client id of that OAuth app, when the store knows it. */
  clientID?: string;
}

/**
 * A store's change notifications, as {@link TokenStore.watch} returns them.
 *
 * @example
 * ```ts
 * const watch = store.watch?.((key) => (key === undefined ? cache.clear() : cache.delete(key)));
 * if (watch?.live) serveFromCache();
 * watch?.close();
 * ```
 */
export interface StoreWatch {
  /**
   * True while every change is being told: the subscription is confirmed and its connection is
   * up. False before that, after a lost connection until it is subscribed again, and after `close()`.
   */
  readonly live: boolean;
  /** Stops the notifications. */
  close(): void;
}

/**
 * A grant a removal names: its id and the refresh token that was revoked.
 *
 * @example
 * ```ts
 * await store.forget('1001', [{ grantId: creds.grantId, refreshToken: creds.refreshToken }]);
 * ```
 */
export type RevokedGrant = Pick<NewCredentials, 'grantId' | 'refreshToken'>;

/**
 * Where credentials live, keyed by organization id. Implementations: {@link MemoryTokenStore}
 * (one process) and `RedisTokenStore` (a fleet). A store may throw `StoreUnavailableError`.
 *
 * Each key holds at most one current grant (what `get` returns and refreshes rotate) and a
 * bounded list of retired ones: grants the app received and still holds, but no longer uses (a
 * grant a later sign-in replaced, a refresh that lost to a newer grant). Every removal names what
 * it removes, a version or grant ids, so it never removes what it did not read.
 *
 * @example
 * ```ts
 * const creds = await store.get('1001');
 * const next = await store.update('1001', refreshed, creds.version); // null: someone else wrote first
 * ```
 */
export interface TokenStore {
  /** The current credentials, or null when there are none (never stored, or removed). */
  get(key: string): Promise<Credentials | null>;
  /** The retired grants, oldest first. */
  retired(key: string): Promise<NewCredentials[]>;
  /**
   * A sign-in: `creds` become current, over anything stored, tombstones too. The grant they
   * replace is retired, not forgotten (unless it is the same grant); past `maxRetired` retired
   * grants the oldest is dropped.
   */
  replace(key: string, creds: NewCredentials, maxRetired: number): Promise<Credentials>;
  /**
   * Compare-and-set: writes only if the stored version is `expectedVersion` (or a conditional
   * remove replaced exactly that version: see `remove`); null when it is not.
   */
  update(key: string, creds: NewCredentials, expectedVersion: number): Promise<Credentials | null>;
  /**
   * Keeps a grant the app holds but will not use: nothing when it is the current grant, its
   * entry updated when it is already retired, else appended (dropping the oldest past
   * `maxRetired`). With `onlyIfKept`, nothing is written (false) when the key holds no grant at
   * all, current or retired.
   */
  retire(key: string, creds: NewCredentials, maxRetired: number, onlyIfKept: boolean): Promise<boolean>;
  /**
   * Removes exactly the grants named (current or retired) after their revocation, each only while
   * it still holds the refresh token named: a late writer's newer tokens of the same grant stay,
   * for the caller to find and revoke. When no current grant is left, the tombstone is final: no
   * late `update` can write past it.
   */
  forget(key: string, grants: readonly RevokedGrant[]): Promise<void>;
  /**
   * A grant found dead: deletes the current credentials if their version is still
   * `expectedVersion` (false when another write came first), leaving a tombstone. A late
   * `update` expecting that same version may still land: it carries tokens only a live grant
   * could have issued.
   */
  remove(key: string, expectedVersion: number): Promise<boolean>;
  /** Takes the key's refresh lock for `ttlMs`, or null when someone else holds it. */
  lock(key: string, ttlMs: number): Promise<LockHandle | null>;
  /**
   * Resolves once the key's version differs from `sinceVersion`, the key's lock is free, or the
   * clock passes `deadline` (ms since the epoch), whichever comes first.
   */
  waitForChange(key: string, sinceVersion: number, deadline: number): Promise<void>;
  /**
   * Every key that holds a current grant, with its status, in no particular order, streamed (a
   * store never gathers them all in memory). Tombstones and keys holding only retired grants are
   * left out. A key written or removed during the listing may or may not appear.
   */
  list(): AsyncIterable<OrganizationStatus>;
  /**
   * Optional: calls `onChange(key)` after every change to a key's current credentials (a write, a
   * removal), by any process, for as long as the watch is live; `onChange(undefined)` when changes
   * may have been missed (a lost connection). What `TokenManager` needs to keep unsealed
   * credentials in memory between calls: without it, every call reads the store.
   */
  watch?(onChange: (key: string | undefined) => void): StoreWatch;
}

interface Slot {
  creds: Credentials | null;
  /** When `creds` were written (the clock's ms). */
  writtenAt: number;
  version: number;
  /** The version a conditional remove replaced: a late update expecting it may still write. */
  revivable: number | null;
  retired: NewCredentials[];
  lock: { owner: object; expiresAt: number } | null;
}

/**
 * The in-process token store: enough for one process (and the default), useless for a fleet.
 *
 * @example
 * ```ts
 * const tokens = new TokenManager({ store: new MemoryTokenStore() });
 * ```
 */
export class MemoryTokenStore implements TokenStore {
  readonly #slots = new Map<string, Slot>();
  readonly #changes = new EventEmitter().setMaxListeners(0);
  readonly #clock: Clock;

  /** `clock`: where lock expiries and waits read the time. Default: the system clock. */
  constructor(options: { clock?: Clock | undefined } = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  async get(key: string): Promise<Credentials | null> {
    const creds = this.#slots.get(key)?.creds;
    return creds ? { ...creds } : null;
  }

  async retired(key: string): Promise<NewCredentials[]> {
    return (this.#slots.get(key)?.retired ?? []).map((grant) => ({ ...grant }));
  }

  async replace(key: string, creds: NewCredentials, maxRetired: number): Promise<Credentials> {
    const slot = this.#slot(key);
    if (slot.creds && slot.creds.grantId !== creds.grantId) {
      pushRetired(slot, storedFieldsOf(slot.creds), maxRetired);
    }
    return this.#write(key, creds);
  }

  async update(key: string, creds: NewCredentials, expectedVersion: number): Promise<Credentials | null> {
    const slot = this.#slots.get(key);
    const current = slot?.creds ? slot.version : slot?.revivable;
    if (current !== expectedVersion) return null;
    return this.#write(key, creds);
  }

  async retire(key: string, creds: NewCredentials, maxRetired: number, onlyIfKept: boolean): Promise<boolean> {
    const slot = this.#slot(key);
    if (slot.creds?.grantId === creds.grantId) return true;
    if (onlyIfKept && !slot.creds && slot.retired.length === 0) return false;
    pushRetired(slot, storedFieldsOf(creds), maxRetired);
    return true;
  }

  async forget(key: string, grants: readonly RevokedGrant[]): Promise<void> {
    const slot = this.#slots.get(key);
    if (!slot) return;
    const revoked = (held: NewCredentials): boolean =>
      grants.some((grant) => grant.grantId === held.grantId && grant.refreshToken === held.refreshToken);
    slot.retired = slot.retired.filter((grant) => !revoked(grant));
    if (slot.creds && revoked(slot.creds)) {
      slot.creds = null;
      this.#bump(key);
    }
    if (!slot.creds) slot.revivable = null;
  }

  async remove(key: string, expectedVersion: number): Promise<boolean> {
    const slot = this.#slots.get(key);
    if (!slot?.creds || slot.version !== expectedVersion) return false;
    slot.creds = null;
    slot.revivable = expectedVersion;
    this.#bump(key);
    return true;
  }

  async lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    const slot = this.#slot(key);
    if (slot.lock && slot.lock.expiresAt > this.#clock.now()) return null;
    const owner = {};
    slot.lock = { owner, expiresAt: this.#clock.now() + ttlMs };
    return {
      current: slot.creds ? { ...slot.creds } : null,
      release: async () => {
        if (slot.lock?.owner !== owner) return;
        slot.lock = null;
        this.#changes.emit(key);
      },
    };
  }

  async waitForChange(key: string, sinceVersion: number, deadline: number): Promise<void> {
    const clock = this.#clock;
    const settled = (): boolean => {
      const slot = this.#slots.get(key);
      return !slot || slot.version !== sinceVersion || !slot.lock || slot.lock.expiresAt <= clock.now();
    };
    let wake = (): void => {};
    const onChange = (): void => wake();
    this.#changes.on(key, onChange);
    try {
      while (!settled() && clock.now() < deadline) {
        const changed = new AbortController();
        wake = () => changed.abort();
        // Wake at the lock's expiry too: a holder that died never announces anything.
        const lockExpiry = this.#slots.get(key)?.lock?.expiresAt ?? deadline;
        await clock.sleep(Math.max(0, Math.min(deadline, lockExpiry) - clock.now()), changed.signal);
      }
    } finally {
      this.#changes.off(key, onChange);
    }
  }

  async *list(): AsyncIterable<OrganizationStatus> {
    // The map's own iterator: entries added meanwhile may appear, none is copied up front.
    for (const [orgId, slot] of this.#slots) {
      const creds = slot.creds;
      if (!creds) continue;
      yield {
        orgId,
        grantId: creds.grantId,
        expiresAt: creds.expiresAt,
        version: creds.version,
        writtenAt: slot.writtenAt,
        ...(creds.region !== undefined && { region: creds.region }),
        ...(creds.clientID !== undefined && { clientID: creds.clientID }),
      };
    }
  }

  #slot(key: string): Slot {
    let slot = this.#slots.get(key);
    if (!slot) {
      // Versions start at the clock, as in the Redis store: they never repeat across a key's lifetimes.
      slot = { creds: null, writtenAt: 0, version: this.#clock.now(), revivable: null, retired: [], lock: null };
      this.#slots.set(key, slot);
    }
    return slot;
  }

  #write(key: string, creds: NewCredentials): Credentials {
    const slot = this.#slot(key);
    slot.creds = { ...storedFieldsOf(creds), version: slot.version + 1 };
    slot.writtenAt = this.#clock.now();
    slot.revivable = null;
    this.#bump(key, slot.creds.version);
    return { ...slot.creds };
  }

  #bump(key: string, version = this.#slot(key).version + 1): void {
    this.#slot(key).version = version;
    this.#changes.emit(key);
  }
}

/** Appends a retired grant, or updates its entry, keeping at most `max` (the newest). */
function pushRetired(slot: Slot, grant: NewCredentials, max: number): void {
  const at = slot.retired.findIndex((retired) => retired.grantId === grant.grantId);
  if (at >= 0) {
    slot.retired[at] = grant;
    return;
  }
  slot.retired.push(grant);
  if (slot.retired.length > max) slot.retired.splice(0, slot.retired.length - max);
}
