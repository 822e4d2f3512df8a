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

/**
 * Runs `work` in one transaction on a client of its own: committed when `work` returns, rolled
 * back when it throws, and then the client is destroyed rather than pooled (its session may be in
 * any state).
 */
export async function inTransaction<T>(
  pool: PostgresPoolLike,
  work: (client: PostgresClientLike) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let failed: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    failed = err as Error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release(failed);
  }
}
