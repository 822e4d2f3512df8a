import type { PostgresClientLike, PostgresPoolLike } from './postgres-client.js';
import { ident } from './postgres-schema.js';
import type { StoreWatch } from './store.js';

/** What a write's notification carries: the version it made and the credentials, sealed. */
export interface WrittenNotice {
  version: number;
  sealed: string;
}

/** How long a waiter waits for LISTEN to be confirmed before it polls without it. */
const READY_WITHIN_MS = 1_000;

/**
 * The one `LISTEN` connection of a PostgresTokenStore, shared by its waiters and watchers. Every
 * write, removal and unlock notifies from its own transaction, so a notification arrives once
 * the change is committed. The connection is held from the pool for as long as the store lives;
 * when it drops, watchers hear `undefined` (changes may have been missed), waiters fall back on
 * their poll, and it is opened again with a growing delay.
 */
export class PostgresListener {
  /** The waiters of each key (a Map, not an EventEmitter: a key may be named `error`). */
  readonly #keys = new Map<string, Set<(written?: WrittenNotice) => void>>();
  readonly #watchers = new Set<(key: string | undefined) => void>();
  #client: PostgresClientLike | undefined;
  #connecting: Promise<void> | undefined;
  #live = false;
  #closed = false;
  #retryMs = 100;
  #retryTimer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: PostgresPoolLike,
    private readonly channel: string,
    private readonly heartbeatMs: number,
  ) {}

  /** Whether notifications are being received (LISTEN confirmed, connection up). */
  get live(): boolean {
    return this.#live;
  }

  /**
   * Calls `wake` on every change to `key` while subscribed, with the version and sealed value a
   * write carried when it did. `ready` settles once LISTEN is confirmed, or it could not be
   * within a second (the waiter polls meanwhile).
   */
  listen(key: string, wake: (written?: WrittenNotice) => void): { ready: Promise<void>; unlisten(): void } {
    let waiters = this.#keys.get(key);
    if (!waiters) this.#keys.set(key, (waiters = new Set()));
    waiters.add(wake);
    const listening = waiters;
    return {
      ready: this.#ready(),
      unlisten: () => {
        listening.delete(wake);
        if (listening.size === 0 && this.#keys.get(key) === listening) this.#keys.delete(key);
      },
    };
  }

  /** Every change to any key, as `TokenStore.watch` promises. */
  watch(onChange: (key: string | undefined) => void): StoreWatch {
    if (this.#closed) return { live: false, close: () => undefined };
    this.#watchers.add(onChange);
    void this.#ready();
    let closed = false;
    const connected = (): boolean => this.#live;
    return {
      get live() {
        return !closed && connected();
      },
      close: () => {
        closed = true;
        this.#watchers.delete(onChange);
      },
    };
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#drop(undefined);
    this.#keys.clear();
    this.#watchers.clear();
  }

  async #ready(): Promise<void> {
    if (this.#live || this.#closed) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#connect(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, READY_WITHIN_MS))),
    ]).finally(() => clearTimeout(timer));
  }

  #connect(): Promise<void> {
    this.#connecting ??= this.#open()
      .catch(() => this.#retry())
      .finally(() => {
        this.#connecting = undefined;
      });
    return this.#connecting;
  }

  async #open(): Promise<void> {
    if (this.#live || this.#closed) return;
    const client = await this.pool.connect();
    client.on('error', (err) => this.#drop(err));
    client.on('end', () => this.#drop(new Error('the LISTEN connection ended')));
    client.on('notification', (message) => {
      if (message.channel === this.channel) this.#tell(message.payload ?? '');
    });
    this.#client = client;
    try {
      await client.query(`LISTEN ${ident(this.channel)}`);
    } catch (err) {
      this.#drop(err as Error);
      throw err;
    }
    if (this.#stale(client)) return;
    this.#live = true;
    this.#retryMs = 100;
    // A connection that died without a word (a network partition) is found by its heartbeat.
    this.#heartbeat = setInterval(() => {
      client.query('SELECT 1').catch((err: unknown) => this.#drop(err as Error));
    }, this.heartbeatMs).unref();
  }

  /** Whether `client` was dropped (or the listener closed) while it was being opened. */
  #stale(client: PostgresClientLike): boolean {
    return this.#closed || this.#client !== client;
  }

  /**
   * A payload is `<version> <key>`, `u <key>` (an unlock), or `c <version> <sealed> <key>`: a
   * write's credentials, for its key's waiters, sent before that write's `<version> <key>`, which
   * is what watchers hear.
   */
  #tell(payload: string): void {
    if (payload.startsWith('c ')) {
      const versionEnd = payload.indexOf(' ', 2);
      const sealedEnd = versionEnd < 0 ? -1 : payload.indexOf(' ', versionEnd + 1);
      if (sealedEnd < 0) return;
      const written: WrittenNotice = {
        version: Number(payload.slice(2, versionEnd)),
        sealed: payload.slice(versionEnd + 1, sealedEnd),
      };
      this.#wake(payload.slice(sealedEnd + 1), written);
      return;
    }
    const space = payload.indexOf(' ');
    if (space < 0) return;
    const key = payload.slice(space + 1);
    this.#wake(key);
    for (const watcher of this.#watchers) watcher(key);
  }

  #wake(key: string, written?: WrittenNotice): void {
    for (const wake of [...(this.#keys.get(key) ?? [])]) wake(written);
  }

  #drop(err: Error | undefined): void {
    const client = this.#client;
    if (!client) return;
    this.#client = undefined;
    const wasLive = this.#live;
    this.#live = false;
    clearInterval(this.#heartbeat);
    client.removeAllListeners('notification');
    client.removeAllListeners('end');
    // A late error on a dropped client must not be unhandled.
    client.removeAllListeners('error');
    client.on('error', () => undefined);
    // Destroyed, not given back: a connection that listened must not serve anyone else.
    client.release(err ?? true);
    if (wasLive) for (const watcher of this.#watchers) watcher(undefined);
    if (err) this.#retry();
  }

  #retry(): void {
    if (this.#closed || this.#retryTimer) return;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, 5_000);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      // Only while someone listens: an idle store holds no connection it does not need.
      if (this.#watchers.size > 0 || this.#keys.size > 0) void this.#connect();
    }, delay).unref();
  }
}
