import type { RateBucket } from './limits.js';

// The shared limiter's backends. Each bucket keeps its theoretical arrival time (the GCRA's TAT):
// the earliest moment its next request may leave. A reservation takes the latest of its buckets'
// TATs (or now), and moves every one of them one interval past it: requests leave evenly spaced,
// never in bursts, so no sliding window of the limit's length ever holds more than the limit.
// One round trip a request, no polling, and every waiter knows at once how long to sleep.

/**
 * A reservation: how long to wait before sending (ms), or, when that would pass the caller's
 * bound, the wait it would have been, and nothing was reserved.
 */
export interface RateReservation {
  granted: boolean;
  waitMs: number;
}

/**
 * Where the fleet's buckets live: memory for one process, Redis or Postgres for a fleet. A
 * backend of your own implements these two methods atomically per organization.
 *
 * @example
 * ```ts
 * const limiter: RateLimiterBackend = new MemoryRateLimiter();
 * const { granted, waitMs } = await limiter.reserve('1001', [{ name: 'organization', intervalMs: 7 }], 5_000);
 * ```
 */
export interface RateLimiterBackend {
  /** Reserves one request of organization `orgId` in every bucket, unless the wait would pass `maxWaitMs`. */
  reserve(orgId: string, buckets: readonly RateBucket[], maxWaitMs: number): Promise<RateReservation>;
  /** No request of `orgId` leaves through these buckets for `ms` from now (a 429 arrived). */
  slowDown(orgId: string, buckets: readonly RateBucket[], ms: number): Promise<void>;
}

/** Buckets kept before the idle ones are swept. */
const SWEEP_FROM = 10_000;

/**
 * The limiter of one process: its organizations' buckets in a Map, idle ones swept.
 *
 * @example
 * ```ts
 * new TokenManager({ rateLimit: { backend: new MemoryRateLimiter() } });
 * ```
 */
export class MemoryRateLimiter implements RateLimiterBackend {
  readonly #tats = new Map<string, number>();
  readonly #now: () => number;

  /** @param now - Milliseconds, monotonic. Default `performance.now`. */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  reserve(orgId: string, buckets: readonly RateBucket[], maxWaitMs: number): Promise<RateReservation> {
    const now = this.#now();
    const keys = buckets.map((b) => `${orgId}\n${b.name}`);
    const slot = Math.max(now, ...keys.map((k) => this.#tats.get(k) ?? 0));
    const waitMs = slot - now;
    if (waitMs > maxWaitMs) return Promise.resolve({ granted: false, waitMs });
    keys.forEach((key, i) => this.#tats.set(key, slot + buckets[i].intervalMs));
    this.#sweep(now);
    return Promise.resolve({ granted: true, waitMs });
  }

  slowDown(orgId: string, buckets: readonly RateBucket[], ms: number): Promise<void> {
    const until = this.#now() + ms;
    for (const b of buckets) {
      const key = `${orgId}\n${b.name}`;
      this.#tats.set(key, Math.max(this.#tats.get(key) ?? 0, until));
    }
    return Promise.resolve();
  }

  #sweep(now: number): void {
    if (this.#tats.size < SWEEP_FROM) return;
    for (const [key, tat] of this.#tats) if (tat < now) this.#tats.delete(key);
  }
}
