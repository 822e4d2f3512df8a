import type { PostgresPoolLike } from './postgres-client.js';
import type { SealingKey } from './seal.js';

/**
 * Options of {@link PostgresTokenStore}.
 *
 * @example
 * ```ts
 * const options: PostgresTokenStoreOptions = { pool: new Pool({ connectionString: process.env.DATABASE_URL }) };
 * ```
 */
export interface PostgresTokenStoreOptions {
  /** A node-postgres (`pg`) 8 `Pool`. The store never ends it. */
  pool: PostgresPoolLike;
  /** The sealing keyring, newest first. Default: `process.env.SAMSARA_SEALING_KEYS`. */
  keys?: string | SealingKey[];
  /** The schema that holds the store's tables, created by the store. Default `'samsara'`. */
  schema?: string;
  /**
   * The name each value is sealed under is `<prefix>{org:<key>}`, as the Redis store's keys are:
   * with the same prefix on both, sealed grants copy between them as they are. Default `'samsara:'`.
   */
  prefix?: string;
  /**
   * Where the one `LISTEN` connection comes from. Default: `pool`. Behind PgBouncer in
   * transaction mode, pass a pool that connects to Postgres directly (LISTEN needs a session).
   */
  listenPool?: PostgresPoolLike;
  /** Milliseconds a store operation may take before it fails with `StoreUnavailableError`. Default 2000. */
  timeout?: number;
  /** Mean milliseconds between state polls while waiting (a LISTEN connection can drop). Default 250. */
  pollInterval?: number;
  /** Keys per page when listing organizations, and so the most held at once. Default 500. */
  listBatchSize?: number;
  /** Milliseconds `health()` answers `lost-data` after a loss was noticed; 0: never. Default 60 000. */
  reportLossFor?: number;
}
