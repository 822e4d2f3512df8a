import { ConfigurationError } from '../errors/index.js';
import { numberOption } from '../number-option.js';

// Samsara's documented rate limits, as the buckets a request counts in: the organization's (every
// call of the app for it), and its endpoint class's where it has one. Samsara counts 150/s per
// access token and 200/s per organization; the app sends all of an organization's calls with its
// one current token, so the lower of the two binds.

/**
 * A limit on one class of endpoints, per organization.
 *
 * @example
 * ```ts
 * const drivers: EndpointRateLimit = { methods: ['GET'], path: '/fleet/drivers', limit: 5 };
 * ```
 */
export interface EndpointRateLimit {
  /** The HTTP methods it covers, upper-case. */
  methods: readonly string[];
  /** The path, `{name}` standing for one segment (`/fleet/vehicles/{id}`). */
  path: string;
  /** Requests per period. */
  limit: number;
  /** The period in ms. Default 1 000. */
  periodMs?: number;
  /** Endpoints that share one budget share a name. Default: the methods and the path. */
  name?: string;
}

/**
 * Samsara's documented endpoint limits for the endpoints this package knows: the legacy vehicles
 * list (25/s), one vehicle (the list's budget, on its own), the webhook reads (5/s) and writes
 * (100/min).
 */
export const SAMSARA_ENDPOINT_LIMITS: readonly EndpointRateLimit[] = [
  { methods: ['GET'], path: '/fleet/vehicles', limit: 25 },
  { methods: ['GET'], path: '/fleet/vehicles/{id}', limit: 25 },
  { methods: ['GET'], path: '/webhooks', limit: 5, name: 'webhooks-read' },
  { methods: ['GET'], path: '/webhooks/{id}', limit: 5, name: 'webhooks-read' },
  { methods: ['POST'], path: '/webhooks', limit: 100, periodMs: 60_000, name: 'webhooks-write' },
  { methods: ['PATCH', 'DELETE'], path: '/webhooks/{id}', limit: 100, periodMs: 60_000, name: 'webhooks-write' },
];

/**
 * The fleet-wide limits (the `rateLimit` option of `TokenManager`).
 *
 * @example
 * ```ts
 * new TokenManager({ store, rateLimit: { perOrganization: 100, endpoints: [...SAMSARA_ENDPOINT_LIMITS, drivers] } });
 * ```
 */
export interface RateLimitOptions {
  /** Requests per second per organization, every endpoint together. Default 150. */
  perOrganization?: number;
  /** Endpoint classes. Default {@link SAMSARA_ENDPOINT_LIMITS}; a path none matches counts only per organization. */
  endpoints?: readonly EndpointRateLimit[];
  /**
   * The share of each limit the fleet aims at, in (0, 1]: requests leave evenly spaced at this
   * fraction of the limit. Against a sliding window of period P, that leaves P x (1/utilization - 1)
   * for the jitter between leaving and arriving: 111 ms a second at the default 0.9.
   */
  utilization?: number;
}

/** One budget: its name (part of a key), and the spacing its requests keep, in ms. */
export interface RateBucket {
  name: string;
  intervalMs: number;
}

interface CompiledClass {
  methods: readonly string[];
  pattern: RegExp;
  bucket: RateBucket;
  periodMs: number;
}

/** The buckets each request counts in, from resolved options. */
export class RateLimits {
  /**
   * How late (ms) a request may leave after its turn without crowding a window: the shortest
   * period's `P x (1/utilization - 1)`, 111 ms at the default 0.9 (0 at utilization 1).
   */
  readonly slackMs: number;
  readonly #organization: RateBucket;
  readonly #classes: CompiledClass[];

  constructor(options: RateLimitOptions = {}) {
    const utilization = numberOption('rateLimit', 'utilization', options.utilization, 0.9, { max: 1 });
    const perOrganization = numberOption('rateLimit', 'perOrganization', options.perOrganization, 150);
    this.#organization = { name: 'organization', intervalMs: 1000 / (perOrganization * utilization) };
    this.#classes = (options.endpoints ?? SAMSARA_ENDPOINT_LIMITS).map((endpoint) => {
      const limit = numberOption('rateLimit', `${endpoint.path} limit`, endpoint.limit, 1);
      const periodMs = numberOption('rateLimit', `${endpoint.path} periodMs`, endpoint.periodMs, 1000);
      if (!endpoint.path.startsWith('/') || /[{}]/.test(endpoint.path.replace(/\{[A-Za-z]+\}/g, ''))) {
        throw new ConfigurationError(`rateLimit endpoint path ${JSON.stringify(endpoint.path)} is not a path.`);
      }
      const methods = endpoint.methods.map((m) => m.toUpperCase());
      const name = endpoint.name ?? `${methods.join(',')} ${endpoint.path}`;
      return {
        methods,
        pattern: patternOf(endpoint.path),
        bucket: { name, intervalMs: periodMs / (limit * utilization) },
        periodMs,
      };
    });
    // The organization's period is a second.
    this.slackMs = Math.min(1000, ...this.#classes.map((c) => c.periodMs)) * (1 / utilization - 1);
  }

  /** The organization's bucket, then the endpoint class's, if any. */
  bucketsOf(method: string, pathname: string): RateBucket[] {
    const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
    const upper = method.toUpperCase();
    const endpoint = this.#classes.find((c) => c.methods.includes(upper) && c.pattern.test(path));
    return endpoint ? [this.#organization, endpoint.bucket] : [this.#organization];
  }
}

function patternOf(path: string): RegExp {
  const escaped = path
    .split(/\{[A-Za-z]+\}/)
    .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${escaped}$`);
}
