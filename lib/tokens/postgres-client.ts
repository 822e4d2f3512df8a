/**
 * What PostgresTokenStore uses of a node-postgres (`pg`) 8 client: a structural type, so the
 * package does not depend on `pg`'s types. A `pg.PoolClient` is one.
 *
 * @example
 * ```ts
 * const client: PostgresClientLike = await pool.connect();
 * ```
 */
export interface PostgresClientLike {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  /** Gives the client back to its pool; with an error, the pool destroys it. */
  release(err?: Error | boolean): void;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  removeAllListeners(event?: string): unknown;
}

/**
 * What PostgresTokenStore uses of a node-postgres (`pg`) 8 `Pool`.
 *
 * @example
 * ```ts
 * import { Pool } from 'pg';
 * const pool: PostgresPoolLike = new Pool({ connectionString: process.env.DATABASE_URL });
 * ```
 */
export interface PostgresPoolLike {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
  connect(): Promise<PostgresClientLike>;
}
