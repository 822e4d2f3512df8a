import { numberOption } from '../number-option.js';
import type { PostgresPoolLike } from '../tokens/postgres-client.js';
import { ident, inSchemaMigration } from '../tokens/postgres-schema.js';
import type { RateBucket } from './limits.js';
import type { RateLimiterBackend, RateReservation } from './limiter.js';

// The fleet's buckets in Postgres: one row per organization, its buckets' TATs in a jsonb map, so
// that one row lock serializes an organization's reservations (as the hash tag's one slot does on
// Redis) and a reservation is one INSERT ... ON CONFLICT DO UPDATE, whatever its bucket count.
// The database's clock (clock_timestamp(), read once per statement in the inserted row's `at`)
// is the only clock: the processes' never have to agree. The statement cannot return a value it
// computed but did not store, so the row keeps its last reservation's answer (wait, granted) and
// RETURNING reads it. `until` is the row's latest TAT: past it (and a margin) the row is idle,
// and the sweep deletes it.

/** How long (ms) past its last TAT a row stays: an organization between two pages keeps its row. */
const IDLE_AFTER = 10_000;

// `now` in ms, once for the whole statement: `excluded.at` in the conflict branch.
const NOW = `(SELECT extract(epoch FROM clock_timestamp()) * 1000 AS now) c`;

function reserveSql(t: string): string {
  return `
INSERT INTO ${t} AS r (org, tats, until, at, wait, granted)
SELECT $1, (SELECT jsonb_object_agg(n, c.now + i) FROM unnest($2::text[], $3::float8[]) b(n, i)),
       c.now + (SELECT max(i) FROM unnest($3::float8[]) i), c.now, 0, true
FROM ${NOW}
ON CONFLICT (org) DO UPDATE SET (tats, until, at, wait, granted) = (
  SELECT CASE WHEN s.ok THEN r.tats || s.next ELSE r.tats END,
         CASE WHEN s.ok THEN greatest(r.until, s.slot + s.longest) ELSE r.until END,
         excluded.at, s.slot - excluded.at, s.ok
  FROM (SELECT p.slot, p.slot - excluded.at <= $4 AS ok,
               (SELECT jsonb_object_agg(n, p.slot + i) FROM unnest($2::text[], $3::float8[]) b(n, i)) AS next,
               (SELECT max(i) FROM unnest($3::float8[]) i) AS longest
        FROM (SELECT greatest(excluded.at, max((r.tats ->> n)::float8)) AS slot FROM unnest($2::text[]) n) p) s)
RETURNING wait, granted`;
}

function slowDownSql(t: string): string {
  return `
INSERT INTO ${t} AS r (org, tats, until, at, wait, granted)
SELECT $1, (SELECT jsonb_object_agg(n, c.now + $3) FROM unnest($2::text[]) n), c.now + $3, c.now, 0, true
FROM ${NOW}
ON CONFLICT (org) DO UPDATE SET
  tats = r.tats || (SELECT jsonb_object_agg(n, greatest(coalesce((r.tats ->> n)::float8, 0), excluded.until))
                    FROM unnest($2::text[]) n),
  until = greatest(r.until, excluded.until)`;
}

/**
 * Options of {@link PostgresRateLimiter}.
 *
 * @example
 * ```ts
 * const options: PostgresRateLimiterOptions = { pool: new Pool({ connectionString: process.env.DATABASE_URL }) };
 * ```
 */
export interface PostgresRateLimiterOptions {
  /** A node-postgres (`pg`) 8 `Pool`. The limiter never ends it. */
  pool: PostgresPoolLike;
  /** The schema of its table, `rate_limits`, created at first use. Default `samsara`, as the token store's. */
  schema?: string;
  /** Before each organization id in the table: fleets that share a schema but not budgets differ here. Default `samsara:`. */
  prefix?: string;
  /** How often (ms) this process deletes the idle rows, from one of its reservations. Default 60 000. */
  sweepEvery?: number;
}

/**
 * The limiter of a fleet on Postgres: every process that shares the database and schema shares
 * each organization's buckets. One statement a request; idle organizations' rows are swept.
 *
 * @example
 * ```ts
 * new TokenManager({ store, rateLimit: { backend: new PostgresRateLimiter({ pool }) } });
 * ```
 */
export class PostgresRateLimiter implements RateLimiterBackend {
  readonly #pool: PostgresPoolLike;
  readonly #schema: string;
  readonly #table: string;
  readonly #prefix: string;
  readonly #reserve: string;
  readonly #slowDown: string;
  readonly #sweepEvery: number;
  #ready: Promise<void> | undefined;
  #sweptAt = performance.now();

  constructor(options: PostgresRateLimiterOptions) {
    this.#pool = options.pool;
    this.#schema = options.schema ?? 'samsara';
    this.#table = `${ident(this.#schema)}.rate_limits`;
    this.#prefix = options.prefix ?? 'samsara:';
    this.#reserve = reserveSql(this.#table);
    this.#slowDown = slowDownSql(this.#table);
    this.#sweepEvery = numberOption('PostgresRateLimiter', 'sweepEvery', options.sweepEvery, 60_000, { min: 0 });
  }

  /**
   * Creates the schema and table if they are not there; done at first use otherwise. Idempotent,
   * safe to run from every process at once.
   */
  migrate(): Promise<void> {
    // A failed creation (the database down) is tried again at the next call, not remembered.
    this.#ready ??= this.#create().catch((err: unknown) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  async reserve(orgId: string, buckets: readonly RateBucket[], maxWaitMs: number): Promise<RateReservation> {
    await this.migrate();
    const names = buckets.map((b) => b.name);
    const intervals = buckets.map((b) => b.intervalMs);
    const { rows } = await this.#pool.query(this.#reserve, [this.#prefix + orgId, names, intervals, maxWaitMs]);
    const [row] = rows as { wait: number; granted: boolean }[];
    this.#sweepIfDue();
    return { granted: row.granted, waitMs: Math.max(0, row.wait) };
  }

  async slowDown(orgId: string, buckets: readonly RateBucket[], ms: number): Promise<void> {
    await this.migrate();
    await this.#pool.query(this.#slowDown, [this.#prefix + orgId, buckets.map((b) => b.name), ms]);
  }

  async #create(): Promise<void> {
    // Two processes' CREATE TABLE IF NOT EXISTS at once can still collide in the catalog: the
    // schema's migration lock (the token store's too) makes them take turns.
    await inSchemaMigration(this.#pool, this.#schema, async (client) => {
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.#table} (org text COLLATE "C" PRIMARY KEY, tats jsonb NOT NULL,
           until float8 NOT NULL, at float8 NOT NULL, wait float8 NOT NULL, granted boolean NOT NULL)`,
      );
    });
  }

  /** Deletes the rows idle for a while, at most once a `sweepEvery` per process, off the caller's path. */
  #sweepIfDue(): void {
    const now = performance.now();
    if (now - this.#sweptAt < this.#sweepEvery) return;
    this.#sweptAt = now;
    // A failed sweep only leaves rows for the next one.
    this.#pool
      .query(`DELETE FROM ${this.#table} WHERE until < extract(epoch FROM clock_timestamp()) * 1000 - $1`, [IDLE_AFTER])
      .catch(() => undefined);
  }
}
