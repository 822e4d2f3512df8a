/**
 * `passport-samsara/rate-limit`: the fleet-wide limiter every call to Samsara goes through, its
 * table of Samsara's published limits, and the backends that hold its state. The root keeps
 * `RedisRateLimiter` and `SAMSARA_ENDPOINT_LIMITS`, what a fleet configures; the rest are here.
 *
 * @example
 * ```ts
 * import { MemoryRateLimiter, type RateLimiterBackend } from 'passport-samsara/rate-limit';
 * const backend: RateLimiterBackend = new MemoryRateLimiter();
 * ```
 *
 * @packageDocumentation
 */
export { FleetRateLimiter } from './fleet.js';
export type { FleetRateLimitOptions } from './fleet.js';
export { SAMSARA_ENDPOINT_LIMITS, RateLimits } from './limits.js';
export type { RateLimitOptions, EndpointRateLimit, RateBucket } from './limits.js';
export { MemoryRateLimiter } from './limiter.js';
export type { RateLimiterBackend, RateReservation } from './limiter.js';
export { RedisRateLimiter } from './redis-limiter.js';
export type { RedisRateLimiterOptions } from './redis-limiter.js';
export { PostgresRateLimiter } from './postgres-limiter.js';
export type { PostgresRateLimiterOptions } from './postgres-limiter.js';
