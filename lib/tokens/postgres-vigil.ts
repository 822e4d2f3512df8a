import { randomBytes } from 'node:crypto';
import type { StoreLostEvent } from '../events.js';
import { SingleFlight } from './single-flight.js';
import { publishStoreLost } from './store-failure.js';
import type { StoreHealth } from './store.js';

/** How the vigil runs a query: bounded in time, every failure a `StoreUnavailableError`. */
type Query = <R>(what: string, text: string, values?: unknown[]) => Promise<R[]>;

/** What the vigil needs of its store. */
export interface PostgresVigilSource {
  /** The quoted schema name. */
  schema: string;
  query: Query;
  /** Runs the migration again (a schema that vanished is created anew). */
  migrate(): Promise<void>;
  /** How long `report()` answers `lost-data` after a loss was noticed, in ms. */
  reportLossFor: number;
}

type Trigger = StoreLostEvent['trigger'];

/**
 * Whether a PostgresTokenStore still has its data: the `epoch` row of its `meta` table, a random
 * id written once. A row (or schema) that vanished, or holds another id than the one this process
 * saw, means everything written before is gone (the schema dropped or truncated, a failover or a
 * restore to an empty database): the store says so once, on the store-lost channel, and writes a
 * new epoch. As on Redis, a loss is noticed by a process that was running before it.
 */
export class PostgresVigil {
  #known: string | undefined;
  #lostAt: number | undefined;
  readonly #checks = new SingleFlight<void>();

  constructor(private readonly source: PostgresVigilSource) {}

  get lostAt(): number | undefined {
    return this.#lostAt;
  }

  /** Reads (or creates) the epoch and compares it with the one seen before. Overlapping checks share one. */
  check(trigger: Trigger): Promise<void> {
    return this.#checks.run('epoch', () => this.#check(trigger));
  }

  /** A round trip, then the epoch: see {@link StoreHealth}. */
  async report(): Promise<StoreHealth> {
    try {
      await this.check('health');
    } catch (err) {
      return { status: 'unavailable', reason: (err as Error).message, ...this.#since() };
    }
    const lostAt = this.#lostAt;
    if (lostAt !== undefined && Date.now() - lostAt < this.source.reportLossFor) {
      return {
        status: 'lost-data',
        reason: `The token store (Postgres) lost its data at ${new Date(lostAt).toISOString()} (its epoch row vanished: the schema dropped or truncated, or a failover or restore to an empty database). Every organization it held must sign in again; their grants stay live at Samsara until then.`,
        lostAt,
      };
    }
    return { status: 'ok', reason: '', ...this.#since() };
  }

  /** Whether `key`, found empty, was lost with the data (see `TokenStore.lost`). */
  async lost(key: string): Promise<boolean> {
    await this.check('miss');
    if (this.#lostAt === undefined) return false;
    const s = this.source.schema;
    // A tombstone or a retired grant is history written since the loss: that key was not lost.
    const rows = await this.source.query<{ kept: boolean }>(
      'lost check',
      `SELECT EXISTS (SELECT 1 FROM ${s}.grants WHERE key = $1) OR EXISTS (SELECT 1 FROM ${s}.retired WHERE key = $1) AS kept`,
      [key],
    );
    return rows.at(0)?.kept !== true;
  }

  async #check(trigger: Trigger): Promise<void> {
    const started = performance.now();
    const s = this.source.schema;
    const fresh = randomBytes(16).toString('base64url');
    const readOrCreate = (): Promise<{ value: string }[]> =>
      this.source.query<{ value: string }>(
        'epoch check',
        `WITH made AS (INSERT INTO ${s}.meta (name, value) VALUES ('epoch', $1) ON CONFLICT (name) DO NOTHING RETURNING value)
         SELECT value FROM made UNION ALL SELECT value FROM ${s}.meta WHERE name = 'epoch'`,
        [fresh],
      );
    let rows: { value: string }[];
    try {
      rows = await readOrCreate();
    } catch (err) {
      // The schema itself is gone (42P01: no such table): create it anew, then the epoch.
      if ((err as { cause?: { code?: string } }).cause?.code !== '42P01') throw err;
      await this.source.migrate();
      rows = await readOrCreate();
    }
    const id = rows.at(0)?.value ?? fresh;
    const seen = this.#known;
    this.#known = id;
    if (seen === undefined || seen === id) return;
    this.#lostAt = Date.now();
    publishStoreLost(
      trigger,
      started,
      `The token store's epoch row in ${s}.meta vanished: Postgres lost everything written before (the schema dropped or truncated, a failover or restore to an empty database). Every organization it held must sign in again.`,
    );
  }

  #since(): { lostAt?: number } {
    return this.#lostAt === undefined ? {} : { lostAt: this.#lostAt };
  }
}
