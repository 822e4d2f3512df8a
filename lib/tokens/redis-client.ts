import type { ScanClient } from './redis-list.js';

/**
 * The part of an ioredis client the store uses: ioredis 5 or 6, standalone or `Redis.Cluster`.
 * Structural, so that the package's types do not need ioredis installed.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * const client: RedisClientLike = new Redis(process.env.REDIS_URL!);
 * ```
 */
export interface RedisClientLike {
  readonly isCluster?: boolean;
  /** ioredis's options: the store honours `keyPrefix`, in its listing and its channels too. */
  readonly options?: { keyPrefix?: unknown };
  /** Reconnections (`ready`; a Cluster's new nodes, `+node`) make the store check its epoch marker. */
  on?(event: 'ready' | '+node', listener: () => void): unknown;
  /** Cluster only: its nodes by role; listing SCANs every master. */
  nodes?(role: 'master'): ScanClient[];
  defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void;
  /** ioredis: `duplicate(options)`; Cluster: `duplicate(startupNodes, options)`. */
  duplicate(...args: never[]): RedisSubscriberLike;
}

/**
 * A pub/sub connection made by {@link RedisClientLike.duplicate}.
 *
 * @example
 * ```ts
 * const subscriber: RedisSubscriberLike = new Redis().duplicate();
 * ```
 */
export interface RedisSubscriberLike {
  // any: ioredis types each event's listener differently; this accepts all of them.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: 'message' | 'pmessage' | 'error' | 'ready' | 'close', listener: (...args: any[]) => void): unknown;
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  psubscribe(pattern: string): Promise<unknown>;
  punsubscribe(pattern: string): Promise<unknown>;
  disconnect(): void;
}
