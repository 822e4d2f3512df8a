import type { RedisClientLike, RedisSubscriberLike } from './redis-client.js';

interface Subscription {
  listeners: Set<() => void>;
  subscribed: Promise<unknown>;
}

const noop = (): void => {};

/**
 * The store's pub/sub: one connection of its own (a subscribed connection can run no other
 * command), one subscription per channel however many waiters share it, dropped after the last.
 */
export class RedisChannels {
  readonly #subscriptions = new Map<string, Subscription>();
  #subscriber: RedisSubscriberLike | undefined;

  constructor(
    private readonly client: RedisClientLike,
    private readonly call: <T>(what: string, command: () => Promise<T>) => Promise<T>,
  ) {}

  /** Calls `listener` on every message of `channel` until `unlisten()`. */
  listen(channel: string, listener: () => void): { subscribed: Promise<unknown>; unlisten(): void } {
    let subscription = this.#subscriptions.get(channel);
    if (!subscription) {
      const subscriber = this.#connect();
      subscription = { listeners: new Set(), subscribed: this.call('subscribe', () => subscriber.subscribe(channel)) };
      this.#subscriptions.set(channel, subscription);
    }
    const current = subscription;
    current.listeners.add(listener);
    return {
      subscribed: current.subscribed,
      unlisten: () => {
        current.listeners.delete(listener);
        if (current.listeners.size > 0 || this.#subscriptions.get(channel) !== current) return;
        this.#subscriptions.delete(channel);
        // A failed unsubscribe is moot: the subscription dies with its connection at close().
        this.#subscriber?.unsubscribe(channel).catch(noop);
      },
    };
  }

  /** Wakes every listener and ends the connection. */
  close(): void {
    for (const { listeners } of this.#subscriptions.values()) for (const listener of listeners) listener();
    this.#subscriptions.clear();
    this.#subscriber?.disconnect();
    this.#subscriber = undefined;
  }

  #connect(): RedisSubscriberLike {
    if (this.#subscriber) return this.#subscriber;
    // Queue while connecting even if the caller's client fails fast: this connection is new.
    const client = this.client as unknown as { duplicate(...args: unknown[]): RedisSubscriberLike };
    const subscriber = this.client.isCluster
      ? client.duplicate([], { enableOfflineQueue: true })
      : client.duplicate({ enableOfflineQueue: true });
    // Its failures surface as timeouts of the waits; unhandled, ioredis would print each one.
    subscriber.on('error', noop);
    subscriber.on('message', (channel: string) => {
      for (const listener of this.#subscriptions.get(channel)?.listeners ?? []) listener();
    });
    this.#subscriber = subscriber;
    return subscriber;
  }
}
