import { RefreshUnavailableError, StoreUnavailableError } from '../errors/index.js';
import { codeOf, listening } from '../events.js';
import { isTransient, oauthErrorOf, type TokenSet } from '../oauth-client.js';
import type { CredentialCache } from './credential-cache.js';
import { grantTokensOf, isFresh, type Credentials, type NewCredentials } from './credentials.js';
import { flightOf, said, waited, type Flight } from './refresh-events.js';
import type { GrantKeeper } from './keeper.js';
import { noCredentials, reauthorization, reportReauthorization } from './reauthorize.js';
import { guarded } from './store-failure.js';
import type { ManagerSettings } from './settings.js';
import { SingleFlight } from './single-flight.js';
import type { LockHandle, TokenStore } from './store.js';

/** What the refresh protocol reads of its manager's settings. */
export type RefreshSettings = Pick<
  ManagerSettings,
  'store' | 'clientFor' | 'clock' | 'skew' | 'lockTtl' | 'waitTimeout' | 'retries' | 'retryDelay'
>;

interface Unsaved {
  creds: NewCredentials;
  expectedVersion: number;
  /**
   * The refresh's own first write, while it is in flight (its callers were served already):
   * callers meanwhile are served these credentials without writing them again.
   */
  landing?: Promise<void>;
}

/** The credentials an unsaved refresh serves from this process meanwhile (the version it read). */
function servedOf(unsaved: Unsaved): Credentials {
  return { ...unsaved.creds, version: unsaved.expectedVersion };
}

/** The lock a read took with it (`TokenStore.getLockingIfDue`): null when another process holds it. */
interface ReadLock {
  lock: LockHandle | null;
  /** When the read was sent, by the manager's clock: the lock's ttl runs from then. */
  at: number;
}

/** Mean milliseconds between background retries of an unsaved write. */
const UNSAVED_RETRY = 250;

/** Time a token request needs beyond its own timeout before the lock ends: the write after it. */
const LOCK_MARGIN = 500;

/**
 * The refresh protocol (docs/refresh-protocol.md): single-flight per key in a process, the
 * store's lock across processes, bounded retries that never outlive the lock, compare-and-set
 * writes through the keeper, and refreshed credentials a failing store could not take kept
 * until they land.
 */
export class Refresher {
  /** The refresh per key in progress: callers that arrive meanwhile join it. */
  readonly #flights = new SingleFlight<Credentials>();
  /**
   * Per key, the work in progress of the callers who reported no token rejected and found nothing
   * fresh in the cache: one store read and one unseal (a storm of requests, or a busy route), and
   * the refresh it may need. Callers that arrive meanwhile join it: its answer is no older than
   * their own read would be by more than that read's round trip.
   */
  readonly #current = new SingleFlight<Credentials>();
  /**
   * Refreshed credentials the store failed to take. The refresh already rotated the old refresh
   * token away, so these are the only copy of a working grant: the write is retried in the
   * background while the kept lock lasts, then on the next call for the key, until it lands or a
   * newer write makes it moot.
   */
  readonly #unsaved = new Map<string, Unsaved>();

  constructor(
    private readonly settings: RefreshSettings,
    private readonly keeper: GrantKeeper,
    private readonly background: (work: Promise<unknown>) => void,
    private readonly cache: CredentialCache | undefined,
  ) {}

  /**
   * The fresh credentials of `key`, refreshed first when needed. Fresh ones in the cache are served
   * at once. Otherwise a caller who reported no token rejected joins the key's work in progress
   * (see `#current`) rather than waiting in an async frame of its own: a storm's callers wait on one
   * promise (an async frame is about 1 KB of heap a caller, and a resumption each).
   */
  credentials(key: string, rejected: string | undefined): Promise<Credentials> {
    if (rejected !== undefined || this.#unsaved.has(key)) return this.#credentials(key, rejected);
    const cached = this.cache?.get(key);
    if (cached && !this.#needsRefresh(cached, undefined)) return Promise.resolve(cached);
    return this.#current.run(key, () => this.#credentials(key, undefined, cached));
  }

  /** `credentials()` for one caller, or for the key's shared run; `cached`: what the cache held (due). */
  async #credentials(key: string, rejected: string | undefined, cached?: Credentials): Promise<Credentials> {
    // No clock read unless someone listens.
    const started = listening('reauthorize') ? performance.now() : 0;
    try {
      // Checked before awaiting anything: no detour through the event loop.
      const saved = this.#unsaved.has(key) ? await this.#saveOrServe(key, rejected) : null;
      // A caller holding a rejected token needs a read that began after the rejection: its own.
      // And nobody else should be served that token from memory meanwhile.
      if (rejected !== undefined) this.cache?.invalidate(key);
      let locked: ReadLock | undefined;
      let current = saved ?? (rejected === undefined ? (cached ?? this.cache?.get(key)) : await this.#read(key));
      current ??= await this.#cachedRead(key, (taken) => (locked = taken));
      if (!this.#needsRefresh(current, rejected)) {
        // A store whose expiry field disagrees with the sealed credentials (written by hand, say).
        if (locked?.lock) this.background(locked.lock.release().catch(() => undefined));
        return current;
      }
      const refreshed = await this.#join(key, current, rejected, locked);
      // A flight started by a caller that could make do with the old token may bring back the
      // very token this caller saw rejected: then it needs a flight of its own.
      return refreshed.accessToken === rejected ? await this.#join(key, refreshed, rejected) : refreshed;
    } catch (err) {
      // Once per error: a flight shared by many callers has reported its own already.
      reportReauthorization(err, started, undefined);
      throw err;
    }
  }

  /** Newer credentials of `key` this process holds than the store does, if any. */
  unsaved(key: string): NewCredentials | undefined {
    return this.#unsaved.get(key)?.creds;
  }

  /**
   * Lets later callers of `key` read the store afresh: a write this process just made (a sign-in,
   * a Disconnect, a refresh) must not be hidden by a shared run (`#current`) that began before it
   * landed.
   */
  wrote(key: string): void {
    this.#current.drop(key);
    this.cache?.invalidate(key);
  }

  /**
   * Drops these very unsaved credentials, which a Disconnect revoked. Newer ones held meanwhile
   * (a refresh that ended after the Disconnect read them) stay: they are written, and meet the
   * Disconnect's tombstone, which lets them go.
   */
  settled(key: string, revoked: NewCredentials): void {
    if (this.#unsaved.get(key)?.creds === revoked) this.#unsaved.delete(key);
  }

  /** The lock for a revoke: waits out a refresh in progress, then takes it (or goes on without). */
  async lockForRevoke(key: string): Promise<LockHandle | null> {
    const { store, clock, lockTtl, waitTimeout } = this.settings;
    const deadline = clock.now() + waitTimeout;
    for (;;) {
      const lock = await guarded('lock', () => store.lock(key, lockTtl), key);
      if (lock || clock.now() >= deadline) return lock;
      const current = await guarded('read', () => store.get(key), key);
      if (!current) return null; // nothing current is refreshing
      await guarded('wait', () => store.waitForChange(key, current.version, deadline - clock.now()), key);
    }
  }

  /**
   * The refresh in flight for `key` in this process, or a new one, which begins with `locked`, the
   * lock its read took, if any (let go when a refresh already in flight is joined instead).
   */
  #join(key: string, current: Credentials, rejected: string | undefined, locked?: ReadLock): Promise<Credentials> {
    // The read's lock, until a new flight takes it.
    let untaken = locked?.lock;
    const flight = this.#flights.run(key, () => {
      untaken = undefined;
      const about = flightOf(key, current);
      return this.#refresh(about, current, rejected, locked)
        .catch((err: unknown) => {
          said(about, 'failed', undefined, codeOf(err));
          reportReauthorization(err, about.startedAt, about.region);
          throw err;
        })
        .finally(() => {
          this.wrote(key);
        });
    });
    if (untaken) this.background(untaken.release().catch(() => undefined));
    return flight;
  }

  async #refresh(
    about: Flight,
    seen: Credentials,
    rejected: string | undefined,
    locked: ReadLock | undefined,
  ): Promise<Credentials> {
    const { store, clock, lockTtl, waitTimeout } = this.settings;
    const { key } = about;
    const deadline = clock.now() + waitTimeout;
    for (;;) {
      // The read's lock, the first time round; the store's own lock call after that.
      const lockedAt = locked?.at ?? clock.now();
      const lock = locked ? locked.lock : await guarded('lock', () => store.lock(key, lockTtl), key);
      locked = undefined;
      if (lock) {
        const hold = { keepLock: false };
        try {
          return await this.#refreshHolding(about, lock, lockedAt, rejected, hold);
        } finally {
          // Released behind the callers' backs: the write has already woken the waiters, and
          // whoever needs the lock next waits for the release's own wake-up (or the lock's ttl).
          if (!hold.keepLock) this.background(lock.release().catch(() => undefined));
        }
      }
      // Someone else is refreshing. A token that still works is served meanwhile.
      if (rejected === undefined && seen.expiresAt > clock.now()) return said(about, 'served-old', seen);
      const waitStarted = performance.now();
      const changed = await guarded('wait', () => store.waitForChange(key, seen.version, deadline - clock.now()), key);
      const latest = changed ?? (await this.#read(key));
      waited(
        about,
        latest.version !== seen.version ? 'changed' : clock.now() >= deadline ? 'timed-out' : 'unlocked',
        waitStarted,
      );
      if (!this.#needsRefresh(latest, rejected)) return said(about, 'adopted', latest);
      if (clock.now() >= deadline) {
        throw new RefreshUnavailableError(
          `Another process held the refresh lock for this Samsara organization past the ${waitTimeout} ms wait.`,
          { retryAfter: Math.ceil(lockTtl / 1000) },
        );
      }
      seen = latest;
    }
  }

  async #refreshHolding(
    about: Flight,
    lock: LockHandle,
    lockedAt: number,
    rejected: string | undefined,
    hold: { keepLock: boolean },
  ): Promise<Credentials> {
    const { key } = about;
    // Read again under the lock (the store may have read with it): another process may have
    // refreshed while we queued for it.
    const current = lock.current === undefined ? await this.#read(key) : await this.#present(key, lock.current);
    if (!this.#needsRefresh(current, rejected)) return said(about, 'adopted', current);
    said(about, 'started');
    let set: TokenSet;
    try {
      set = await this.#requestRefresh(current, lockedAt);
    } catch (err) {
      if (oauthErrorOf(err) === 'invalid_grant') return this.#onInvalidGrant(about, current, err);
      // The token endpoint failed: a token that has not expired yet still serves.
      if (current.accessToken !== rejected && current.expiresAt > this.settings.clock.now()) {
        return said(about, 'served-old', current, codeOf(err));
      }
      throw refreshFailure(err);
    }
    // The issuer travels with the grant: the next refresh goes to the same region's app.
    const fresh: NewCredentials = {
      ...grantTokensOf(set),
      grantId: current.grantId,
      ...(current.region !== undefined && { region: current.region }),
      ...(current.clientID !== undefined && { clientID: current.clientID }),
    };
    // Samsara's answer is valid: the callers have their token now, and the write goes on behind
    // them under the kept lock, so no other process refreshes before it lands. Until it does, these
    // are held (and served) in this process as an unsaved write is.
    const pending: Unsaved = { creds: fresh, expectedVersion: current.version };
    this.#unsaved.set(key, pending);
    hold.keepLock = true;
    // Begun before the callers resume (on Redis, on the connection already: what they do next on
    // the same client comes after it).
    pending.landing = this.#land(about, pending, lock, lockedAt);
    this.background(pending.landing);
    return servedOf(pending);
  }

  /**
   * A refresh's first write, once its callers were served: `refreshed` when it lands, then the lock
   * is released. A store that cannot take it leaves it unsaved: kept, served and written again
   * under the extended lock. A write that lost (a sign-in or a Disconnect came first) let the
   * tokens go as the keeper does; the next caller reads what won.
   */
  async #land(about: Flight, pending: Unsaved, lock: LockHandle, lockedAt: number): Promise<void> {
    const { key } = about;
    try {
      said(about, 'refreshed', await this.keeper.keep(key, pending.creds, pending.expectedVersion));
    } catch (err) {
      // Gone from the unsaved ones only when a Disconnect revoked these very tokens.
      if (err instanceof StoreUnavailableError && this.#unsaved.get(key) === pending) {
        // These are now the grant's only working tokens (the store is down, or took them without
        // making them durable): write them again until they land.
        pending.landing = undefined;
        said(about, 'unsaved', undefined, err.code);
        this.background(this.#retryUnsaved(key, pending, lock, lockedAt + this.settings.lockTtl));
        return;
      }
      said(about, 'failed', undefined, codeOf(err));
      reportReauthorization(err, about.startedAt, about.region);
    }
    if (this.#unsaved.get(key) === pending) this.#unsaved.delete(key);
    this.wrote(key);
    this.background(lock.release().catch(() => undefined));
  }

  /** The token request with bounded retries, none of which may outlive the lock. */
  async #requestRefresh(current: Credentials, lockedAt: number): Promise<TokenSet> {
    const { clock, lockTtl, retries, retryDelay } = this.settings;
    const client = this.settings.clientFor(current);
    for (let attempt = 0; ; attempt++) {
      if (lockedAt + lockTtl - clock.now() < client.timeout + LOCK_MARGIN) {
        throw new RefreshUnavailableError(
          'The refresh lock would expire before a token request could finish; not sending one.',
        );
      }
      try {
        return await client.refresh(current.refreshToken);
      } catch (err) {
        if (!isTransient(err) || attempt >= retries) throw err;
        await clock.sleep(retryDelay * 2 ** attempt * (0.5 + Math.random()));
      }
    }
  }

  async #onInvalidGrant(about: Flight, current: Credentials, cause: unknown): Promise<Credentials> {
    const { store } = this.settings;
    const { key } = about;
    const latest = await guarded('read', () => store.get(key), key);
    // Another writer rotated first (a late lock holder, a fresh sign-in): use theirs.
    if (latest && latest.version !== current.version) return said(about, 'adopted', latest);
    // A conditional remove: a late writer holding this grant's next tokens may still land.
    if (await guarded('remove', () => store.remove(key, current.version), key)) {
      // The removal that won tells the host: once per dead grant across the fleet.
      this.background(this.keeper.lifecycle.tell('onReauthorizationRequired', { orgId: key, reason: 'grant-dead' }));
    } else {
      const written = await guarded('read', () => store.get(key), key);
      if (written) return said(about, 'adopted', written);
    }
    throw reauthorization(
      key,
      'grant-dead',
      'Samsara rejected its refresh token (invalid_grant); the grant was revoked or the app uninstalled',
      cause,
    );
  }

  /**
   * The unsaved credentials of `key`, written again first; served as they are when the store still
   * cannot take them and they still work (null when they do not: the caller refreshes).
   */
  async #saveOrServe(key: string, rejected: string | undefined): Promise<Credentials | null> {
    const unsaved = this.#unsaved.get(key);
    if (unsaved?.landing) {
      // The refresh's own write is in flight: nothing to write again. A caller who saw these very
      // tokens rejected goes on from what the store holds once it has landed.
      const served = servedOf(unsaved);
      if (!this.#needsRefresh(served, rejected)) return served;
      await unsaved.landing;
      return this.#unsaved.has(key) ? this.#saveOrServe(key, rejected) : null;
    }
    try {
      return await this.#saveUnsaved(key);
    } catch (err) {
      if (!(err instanceof StoreUnavailableError) || !unsaved || this.#unsaved.get(key) !== unsaved) throw err;
      const served = servedOf(unsaved);
      if (this.#needsRefresh(served, rejected)) throw err;
      return served;
    }
  }

  /** Retries the write of credentials a failed store could not take; null when there are none. */
  async #saveUnsaved(key: string): Promise<Credentials | null> {
    const unsaved = this.#unsaved.get(key);
    if (!unsaved) return null;
    const settle = (): void => {
      if (this.#unsaved.get(key) === unsaved) this.#unsaved.delete(key);
    };
    try {
      const saved = await this.keeper.keep(key, unsaved.creds, unsaved.expectedVersion);
      settle();
      return saved;
    } catch (err) {
      // The store is still down: they stay unsaved. Anything else settled their fate.
      if (!(err instanceof StoreUnavailableError)) settle();
      throw err;
    }
  }

  /**
   * Retries an unsaved write in the background, extending the kept lock each round (taking it
   * again if a failover lost it), until the write lands or the lock runs out: someone else took it,
   * or the store stayed away past its ttl. After that another process may spend the rotated-out
   * refresh token; the next caller here still retries. Errors are the next caller's to see.
   */
  async #retryUnsaved(key: string, unsaved: Unsaved, lock: LockHandle, until: number): Promise<void> {
    const { clock, lockTtl } = this.settings;
    while (this.#unsaved.get(key) === unsaved && clock.now() + UNSAVED_RETRY < until) {
      await clock.sleep(UNSAVED_RETRY * (0.5 + Math.random()));
      const extendedAt = clock.now();
      const held = await lock.extend?.(lockTtl).catch(() => undefined);
      if (held === false) break;
      if (held) until = extendedAt + lockTtl;
      await this.#saveUnsaved(key).catch(() => undefined);
    }
    if (this.#unsaved.get(key) !== unsaved) await lock.release().catch(() => undefined);
  }

  /**
   * A store read kept in the cache, when there is one, for the calls after it. The protocol's own
   * re-reads never use the cache. While the cache is live, a read is a miss (the first call after
   * `maxAge`, or after a change), where a due grant is likely: on a store that can, the read also
   * takes the refresh lock when the credentials are due, and hands it to `onLock`. Otherwise (no
   * cache, or a watch that is not live: a Cluster, a lost connection) every call reads, and reads
   * plainly (on Redis a locking read is a script, about 20 µs dearer).
   */
  #cachedRead(key: string, onLock: (locked: ReadLock) => void): Promise<Credentials> {
    const { cache } = this;
    if (!cache) return this.#read(key);
    return cache.load(
      key,
      cache.live && this.settings.store.getLockingIfDue
        ? (): Promise<Credentials> => this.#readLockingIfDue(key, onLock)
        : (): Promise<Credentials> => this.#read(key),
    );
  }

  async #readLockingIfDue(key: string, onLock: (locked: ReadLock) => void): Promise<Credentials> {
    const { store, clock, skew, lockTtl } = this.settings;
    // Only called on a store that has it.
    const locking = store as Required<Pick<TokenStore, 'getLockingIfDue'>>;
    const at = clock.now();
    const read = await guarded('read', () => locking.getLockingIfDue(key, at + skew, lockTtl), key);
    if (read.lock && !read.credentials) {
      // Nothing to refresh (a store of someone else's may lock anyway): the lock goes back.
      this.background(read.lock.release().catch(() => undefined));
    } else if (read.lock !== undefined) {
      onLock({ lock: read.lock, at });
    }
    return this.#present(key, read.credentials);
  }

  async #read(key: string): Promise<Credentials> {
    return this.#present(key, await guarded('read', () => this.settings.store.get(key), key));
  }

  /** `creds`, or `ReauthorizationRequiredError` when the store holds none (lost with its memory, or never there). */
  async #present(key: string, creds: Credentials | null): Promise<Credentials> {
    if (!creds) throw await noCredentials(this.settings.store, key);
    return creds;
  }

  #needsRefresh(creds: Credentials, rejected: string | undefined): boolean {
    return creds.accessToken === rejected || !isFresh(creds, this.settings.skew, this.settings.clock.now());
  }
}

function refreshFailure(err: unknown): Error {
  if (err instanceof RefreshUnavailableError) return err;
  if (isTransient(err)) {
    return new RefreshUnavailableError(`Refreshing the Samsara access token failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return err as Error;
}
