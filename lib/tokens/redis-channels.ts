import type { RedisClientLike, RedisSubscriberLike } from './redis-client.js';
import type { StoreWatch } from './store.js';

interface Subscription {
  /** Called with each message; with none when the channels close. */
  listeners: Set<(message?: string) => void>;
  subscribed: Promise<unknown>;
  /** Set while nobody listens: the `UNSUBSCRIBE` to come. */
  idle?: NodeJS.Timeout;
}

interface Watcher {
  onMessage(channel: string): void;
  onLost(): void;
}

/** A pattern subscription: confirmed once Redis acknowledged it on the connection now up. */
interface PatternSubscription {
  watchers: Set<Watcher>;
  confirmed: boolean;
  /** Grows at every lost connection: an acknowledgement of an older one confirms nothing. */
  connection: number;
}

const noop = (): void => {};

/**
 * Milliseconds a channel stays subscribed after its last listener left. The end of a wait is the
 * moment its callers resume, in this process and in every other one the write woke: an
 * `UNSUBSCRIBE` sent then competes with them for the CPU (a loopback write costs about 0.1 ms of
 * it on a small VM). And a wait that begins meanwhile finds the channel subscribed already.
 */
export const UNSUBSCRIBE_AFTER = 100;

/**
 * The store's pub/sub: one connection of its own (a subscribed connection can run no other
 * command), one subscription per channel however many waiters share it, dropped
 * {@link UNSUBSCRIBE_AFTER} ms after the last, and one per pattern however many watchers share it.
 */
export class RedisChannels {
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #patterns = new Map<string, PatternSubscription>();
  #subscriber: RedisSubscriberLike | undefined;

  constructor(
    private readonly client: RedisClientLike,
    private readonly call: <T>(what: string, command: () => Promise<T>) => Promise<T>,
  ) {}

  /** Calls `listener` with every message of `channel` until `unlisten()`. */
  listen(channel: string, listener: (message?: string) => void): { subscribed: Promise<unknown>; unlisten(): void } {
    let subscription = this.#subscriptions.get(channel);
    if (!subscription) {
      const subscriber = this.#connect();
      const created: Subscription = {
        listeners: new Set(),
        subscribed: this.call('subscribe', () => subscriber.subscribe(channel)),
      };
      // A SUBSCRIBE that failed is not kept (its waits fail with it): the next wait tries again.
      created.subscribed.catch(() => {
        if (this.#subscriptions.get(channel) !== created) return;
        clearTimeout(created.idle);
        this.#subscriptions.delete(channel);
      });
      this.#subscriptions.set(channel, created);
      subscription = created;
    }
    const current = subscription;
    clearTimeout(current.idle);
    current.idle = undefined;
    current.listeners.add(listener);
    return {
      subscribed: current.subscribed,
      unlisten: () => {
        // Once per listen(): a second call must not arm a second timer.
        if (!current.listeners.delete(listener)) return;
        if (current.listeners.size > 0 || this.#subscriptions.get(channel) !== current) return;
        // A listen() meanwhile clears it; so do close() and a failed SUBSCRIBE.
        current.idle = setTimeout(() => {
          this.#subscriptions.delete(channel);
          // A failed unsubscribe is moot: the subscription dies with its connection at close().
          this.#subscriber?.unsubscribe(channel).catch(noop);
        }, UNSUBSCRIBE_AFTER).unref();
      },
    };
  }

  /**
   * Calls `onMessage(channel)` on every message of a channel matching `pattern`, and `onLost()`
   * whenever messages may have been missed (the connection closed); `live` says whether they are
   * being received now.
   */
  watch(pattern: string, onMessage: (channel: string) => void, onLost: () => void): StoreWatch {
    let subscription = this.#patterns.get(pattern);
    if (!subscription) {
      subscription = { watchers: new Set(), confirmed: false, connection: 0 };
      this.#patterns.set(pattern, subscription);
      this.#connect();
      this.#confirm(pattern, subscription);
    }
    const current = subscription;
    const watcher: Watcher = { onMessage, onLost };
    current.watchers.add(watcher);
    return {
      get live() {
        return current.confirmed && current.watchers.has(watcher);
      },
      close: () => {
        current.watchers.delete(watcher);
        if (current.watchers.size > 0 || this.#patterns.get(pattern) !== current) return;
        this.#patterns.delete(pattern);
        this.#subscriber?.punsubscribe(pattern).catch(noop);
      },
    };
  }

  /** Wakes every listener, tells every watcher its messages are lost, and ends the connection. */
  close(): void {
    for (const { listeners, idle } of this.#subscriptions.values()) {
      clearTimeout(idle);
      for (const listener of listeners) listener();
    }
    this.#subscriptions.clear();
    for (const subscription of this.#patterns.values()) this.#lost(subscription);
    this.#patterns.clear();
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }

  /** (Re)subscribes to `pattern` and marks it live once Redis has acknowledged it. */
  #confirm(pattern: string, subscription: PatternSubscription): void {
    const { connection } = subscription;
    const subscriber = this.#subscriber;
    if (!subscriber) return;
    this.call('psubscribe', () => subscriber.psubscribe(pattern)).then(() => {
      subscription.confirmed = subscription.connection === connection && this.#patterns.get(pattern) === subscription;
    }, noop);
  }

  #lost(subscription: PatternSubscription): void {
    subscription.confirmed = false;
    subscription.connection++;
    for (const watcher of subscription.watchers) watcher.onLost();
  }

  #connect(): RedisSubscriberLike {
    if (this.#subscriber) return this.#subscriber;
    // Queue while connecting even if the caller's client fails fast: this connection is new.
    // And no handshake of ioredis's own: a SUBSCRIBE sent while the connection is in its
    // 'connect' phase (ioredis may: SUBSCRIBE works while Redis loads) puts it in subscriber mode
    // before ioredis sends CLIENT SETINFO and the ready check's INFO, which Redis then refuses;
    // ioredis then fails its ready check and rejects every subscribe in flight. This connection
    // only ever subscribes. (A Cluster's pub/sub connection is ioredis's own, made its own way.)
    const client = this.client as unknown as { duplicate(...args: unknown[]): RedisSubscriberLike };
    const subscriber = this.client.isCluster
      ? client.duplicate([], { enableOfflineQueue: true })
      : client.duplicate({ enableOfflineQueue: true, enableReadyCheck: false, disableClientInfo: true });
    // Its failures surface as timeouts of the waits; unhandled, ioredis would print each one.
    subscriber.on('error', noop);
    subscriber.on('message', (channel: string, message: string) => {
      for (const listener of this.#subscriptions.get(channel)?.listeners ?? []) listener(message);
    });
    subscriber.on('pmessage', (pattern: string, channel: string) => {
      for (const watcher of this.#patterns.get(pattern)?.watchers ?? []) watcher.onMessage(channel);
    });
    // A closed connection misses what is published until it is back and subscribed again (ioredis
    // resubscribes on its own; the acknowledgement of our own resubscription says when).
    subscriber.on('close', () => {
      for (const subscription of this.#patterns.values()) this.#lost(subscription);
    });
    subscriber.on('ready', () => {
      for (const [pattern, subscription] of this.#patterns) this.#confirm(pattern, subscription);
    });
    this.#subscriber = subscriber;
    return subscriber;
  }
}
