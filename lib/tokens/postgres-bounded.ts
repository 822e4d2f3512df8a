import { StoreUnavailableError } from '../errors/index.js';
import { storeFailure } from './store-failure.js';

/** How PostgresTokenStore's parts run a query: bounded by {@link bounded}, answering its rows. */
export type BoundedQuery = (what: string, text: string, values: unknown[]) => Promise<unknown[]>;

/**
 * Runs a Postgres operation within `timeout` ms (time waiting for a pool connection counts):
 * every failure, the timeout included, becomes `StoreUnavailableError` naming `what`.
 */
export async function bounded<T>(timeout: number, what: string, command: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new StoreUnavailableError(
            `The token store (Postgres) did not answer the ${what} within ${timeout} ms; check that the database is up and reachable.`,
          ),
        ),
      timeout,
    );
  });
  try {
    return await Promise.race([command(), timedOut]);
  } catch (err) {
    throw storeFailure(err, `${what} (Postgres)`);
  } finally {
    clearTimeout(timer);
  }
}

/** A ttl in whole ms, at least 1 (what the schema's functions take). */
export function wholeMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}
