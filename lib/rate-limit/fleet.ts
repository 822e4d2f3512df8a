import { StoreUnavailableError } from '../errors/index.js';
import { numberOption } from '../number-option.js';
import { PostgresTokenStore } from '../tokens/postgres-store.js';
import { RedisTokenStore } from '../tokens/redis-store.js';
import { beforeTimeout } from '../tokens/store-failure.js';
import type { TokenStore } from '../tokens/store.js';
import { RateLimits, type RateLimitOptions } from './limits.js';
import { MemoryRateLimiter, type RateLimiterBackend, type RateReservation } from './limiter.js';
import { PostgresRateLimiter } from './postgres-limiter.js';
import { RedisRateLimiter } from './redis-limiter.js';

/**
 * The `rateLimit` option of `TokenManager`: Samsara's documented limits by default, other limits,
 * another backend, or `false` for none.
 *
 * @example
 * ```ts
 * new TokenManager({ store, rateLimit: { utilization: 0.8 } }); // leave a fifth to the organization's other apps
 * new TokenManager({ store, rateLimit: false });                // every call straight to Samsara
 * ```
 */
export interface FleetRateLimitOptions extends RateLimitOptions {
  /**
   * Where the buckets live. Default: the token store's Redis for a `RedisTokenStore`, its
   * Postgres for a `PostgresTokenStore`, else this process's memory.
   */
  backend?: RateLimiterBackend;
  /**
   * How long (ms) the backend may take to answer before the request goes unpaced, as when it
   * fails: a pool with no free connection or a Redis that hangs never holds a call forever.
   * Default 1000.
   */
  timeoutMs?: number;
}

/**
 * The limiter every call to Samsara of one manager goes through (`tokens.rateLimiter`): it paces
 * each organization's requests to its limits across every process that shares the backend, and
 * a 429 that still arrives (another app of the organization spent its budget) slows the
 * organization down for all of them.
 *
 * @example
 * ```ts
 * const { granted, waitMs } = await tokens.rateLimiter!.reserve('1001', 'GET', '/fleet/vehicles', 5_000);
 * ```
 */
export class FleetRateLimiter {
  /** Which buckets a request counts in. */
  readonly limits: RateLimits;
  /** Where the buckets live. */
  readonly backend: RateLimiterBackend;
  readonly #timeoutMs: number;

  /** `now`: the memory backend's time in ms (the manager's clock). */
  constructor(options: FleetRateLimitOptions, store?: TokenStore, now?: () => number) {
    this.limits = new RateLimits(options);
    this.backend = options.backend ?? backendOf(store, now);
    this.#timeoutMs = numberOption('rateLimit', 'timeoutMs', options.timeoutMs, 1000);
  }

  /**
   * One request of `orgId` to `method` `pathname`: how long to wait first, unless past `maxWaitMs`.
   *
   * @throws The backend's own error, or `StoreUnavailableError` when it does not answer within `timeoutMs`.
   */
  reserve(orgId: string, method: string, pathname: string, maxWaitMs: number): Promise<RateReservation> {
    const buckets = this.limits.bucketsOf(method, pathname);
    return this.#bounded('reservation', () => this.backend.reserve(orgId, buckets, maxWaitMs));
  }

  /**
   * Samsara answered 429 with `Retry-After`: nobody sends there for `ms`.
   *
   * @throws The backend's own error, or `StoreUnavailableError` when it does not answer within `timeoutMs`.
   */
  slowDown(orgId: string, method: string, pathname: string, ms: number): Promise<void> {
    const buckets = this.limits.bucketsOf(method, pathname);
    return this.#bounded('slow-down', () => this.backend.slowDown(orgId, buckets, ms));
  }

  #bounded<T>(what: string, command: () => Promise<T>): Promise<T> {
    const late = (): Error =>
      new StoreUnavailableError(`The rate limiter's backend did not answer the ${what} within ${this.#timeoutMs} ms.`);
    return beforeTimeout(this.#timeoutMs, late, command);
  }
}

function backendOf(store: TokenStore | undefined, now: (() => number) | undefined): RateLimiterBackend {
  if (store instanceof RedisTokenStore) return new RedisRateLimiter(store.connection);
  if (store instanceof PostgresTokenStore) return new PostgresRateLimiter(store.connection);
  return new MemoryRateLimiter(now);
}
