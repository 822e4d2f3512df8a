import { ConfigurationError } from '../errors/index.js';
import type { RedisClientLike } from '../tokens/redis-client.js';
import { rateKeyOf } from '../tokens/redis-schema.js';
import type { RateBucket } from './limits.js';
import type { RateLimiterBackend, RateReservation } from './limiter.js';

// The fleet's buckets in Redis: one key per organization and bucket, all of an organization's
// under its hash tag (one Cluster slot, so one script sees them all). The script reads Redis's
// own clock (TIME), so the processes' clocks never have to agree. A key lives as long as its
// TAT is in the future, plus a second: an idle organization costs nothing.

// KEYS: the organization's buckets, any number of them; ARGV: the longest wait the caller takes
// (ms), then each bucket's interval (ms), in the buckets' order.
const RESERVE = `
local buckets = KEYS
local maxWait = tonumber(ARGV[1])
local intervals = {}
for i = 2, #ARGV do intervals[#intervals + 1] = tonumber(ARGV[i]) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local slot = now
for _, bucket in ipairs(buckets) do
  local tat = tonumber(redis.call('GET', bucket) or '0')
  if tat > slot then slot = tat end
end
local wait = slot - now
if wait > maxWait then return {0, tostring(wait)} end
for i, bucket in ipairs(buckets) do
  local tat = slot + intervals[i]
  redis.call('SET', bucket, tostring(tat), 'PX', math.ceil(tat - now) + 1000)
end
return {1, tostring(wait)}
`;

// KEYS: the buckets; ARGV: how long (ms) nobody sends through them.
const SLOW_DOWN = `
local buckets = KEYS
local pauseMs = tonumber(ARGV[1])
local t = redis.call('TIME')
local until_ = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 + pauseMs
for _, bucket in ipairs(buckets) do
  local tat = tonumber(redis.call('GET', bucket) or '0')
  if until_ > tat then redis.call('SET', bucket, tostring(until_), 'PX', math.ceil(pauseMs) + 1000) end
end
return 1
`;

interface LimiterCommands {
  samsaraRateReserve(...args: (string | number)[]): Promise<[number, string]>;
  samsaraRateSlowDown(...args: (string | number)[]): Promise<number>;
}

/**
 * Options of {@link RedisRateLimiter}.
 *
 * @example
 * ```ts
 * const options: RedisRateLimiterOptions = { client: new Redis(process.env.REDIS_URL!), prefix: 'myapp:' };
 * ```
 */
export interface RedisRateLimiterOptions {
  /** An ioredis 5 or 6 client or `Redis.Cluster` (its `keyPrefix` applies). The limiter never quits it. */
  client: RedisClientLike;
  /** Before each key's hash tag; no `{` or `}`. Default `samsara:`, as the token store's. */
  prefix?: string;
}

/**
 * The limiter of a fleet: every process that shares the Redis shares each organization's
 * buckets. One script call a request.
 *
 * @example
 * ```ts
 * new TokenManager({ store, rateLimit: { backend: new RedisRateLimiter({ client: redis }) } });
 * ```
 */
export class RedisRateLimiter implements RateLimiterBackend {
  readonly #commands: LimiterCommands;
  readonly #prefix: string;

  constructor(options: RedisRateLimiterOptions) {
    this.#prefix = options.prefix ?? 'samsara:';
    if (/[{}]/.test(this.#prefix)) {
      throw new ConfigurationError(
        'The RedisRateLimiter prefix must not contain { or }: the limiter adds its own hash tag.',
      );
    }
    options.client.defineCommand('samsaraRateReserve', { lua: RESERVE });
    options.client.defineCommand('samsaraRateSlowDown', { lua: SLOW_DOWN });
    this.#commands = options.client as unknown as LimiterCommands;
  }

  async reserve(orgId: string, buckets: readonly RateBucket[], maxWaitMs: number): Promise<RateReservation> {
    const keys = this.#keys(orgId, buckets);
    const intervals = buckets.map((b) => b.intervalMs);
    const [granted, wait] = await this.#commands.samsaraRateReserve(keys.length, ...keys, maxWaitMs, ...intervals);
    return { granted: granted === 1, waitMs: Math.max(0, Number(wait)) };
  }

  async slowDown(orgId: string, buckets: readonly RateBucket[], ms: number): Promise<void> {
    const keys = this.#keys(orgId, buckets);
    await this.#commands.samsaraRateSlowDown(keys.length, ...keys, ms);
  }

  #keys(orgId: string, buckets: readonly RateBucket[]): string[] {
    return buckets.map((b) => rateKeyOf(this.#prefix, orgId, b.name));
  }
}
