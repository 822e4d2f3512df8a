import type { Clock } from './clock.js';
import type { Credentials } from './credentials.js';
import type { StoreWatch } from './store.js';

/**
 * The in-process cache of unsealed credentials: see {@link TokenManagerOptions.cache}.
 *
 * @example
 * ```ts
 * new TokenManager({ store, cache: { maxAge: 500, maxEntries: 10_000 } });
 * ```
 */
export interface CredentialCacheOptions {
  /** The longest, in ms, credentials are served from memory without a store read. Default 1000; at most 60 000. */
  maxAge?: number;
  /** Organizations kept at most; past it the oldest entry is dropped. Default 1000. */
  maxEntries?: number;
}

interface Entry {
  creds: Credentials;
  /** The clock's ms past which the entry is not served. */
  until: number;
}

/** The store's `watch`. */
type Watch = (onChange: (key: string | undefined) => void) => StoreWatch;

/**
 * Unsealed credentials kept between calls, for a store that tells its changes (`watch`). An entry
 * is served only while the store's notifications are live, and for at most `maxAge` (the refresher
 * still checks it: one due for refresh is refreshed, never served). Every change the store tells drops
 * the key's entry; a lost connection drops them all; and a read during which any change was told
 * fills nothing, so a read that began before a write can never cache what the write replaced.
 */
export class CredentialCache {
  readonly #entries = new Map<string, Entry>();
  readonly #startWatch: Watch;
  readonly #clock: Clock;
  readonly #maxAge: number;
  readonly #maxEntries: number;
  /** Grows at every change told: a read fills only if none was told meanwhile. */
  #changes = 0;
  #watch: StoreWatch | undefined;

  constructor(watch: Watch, settings: { clock: Clock; maxAge: number; maxEntries: number }) {
    this.#startWatch = watch;
    this.#clock = settings.clock;
    this.#maxAge = settings.maxAge;
    this.#maxEntries = settings.maxEntries;
  }

  /**
   * Whether the store's watch is live: reads fill the cache and entries are served. Not before the
   * first read starts it, never on a store that cannot tell every change (a Redis Cluster).
   */
  get live(): boolean {
    return this.#watch?.live ?? false;
  }

  /** The cached credentials of `key`, if they may still be served. */
  get(key: string): Credentials | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    const now = this.#clock.now();
    // A copy per caller, as a store read gives: what a caller does to it stays its own.
    if (this.#watch?.live && now < entry.until) return { ...entry.creds };
    this.#entries.delete(key);
    return undefined;
  }

  /** `read()`'s credentials, kept for later calls when no change was told while it ran. */
  async load(key: string, read: () => Promise<Credentials>): Promise<Credentials> {
    // Watched from the first read on, so that a manager that never reads subscribes to nothing.
    this.#watch ??= this.#startWatch((changed) => {
      this.invalidate(changed);
    });
    // Live at both ends, and nothing told between: a read begun while not live may have read
    // what a change published meanwhile (and lost) replaced, even if the watch is live again by its end.
    const live = this.#watch.live;
    const changes = this.#changes;
    const creds = await read();
    if (live && this.#watch.live && changes === this.#changes) this.#put(key, creds);
    return creds;
  }

  /** Stops watching and drops every entry, for good. */
  close(): void {
    this.#watch?.close();
    // A watch that is never live: nothing is filled or served from here on, and none is started.
    this.#watch = { live: false, close: () => undefined };
    this.invalidate(undefined);
  }

  /** Drops `key`'s entry (every entry for undefined), and stops the fills of reads in progress. */
  invalidate(key: string | undefined): void {
    this.#changes++;
    if (key === undefined) this.#entries.clear();
    else this.#entries.delete(key);
  }

  #put(key: string, creds: Credentials): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { creds: { ...creds }, until: this.#clock.now() + this.#maxAge });
  }
}
