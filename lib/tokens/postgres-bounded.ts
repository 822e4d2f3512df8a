import { withinTimeout } from './store-failure.js';

/** How PostgresTokenStore's parts run a query: bounded by {@link bounded}, answering its rows. */
export type BoundedQuery = (what: string, text: string, values: unknown[]) => Promise<unknown[]>;

/**
 * Runs a Postgres operation within `timeout` ms (time waiting for a pool connection counts):
 * every failure, the timeout included, becomes `StoreUnavailableError` naming `what`.
 */
export function bounded<T>(timeout: number, what: string, command: () => Promise<T>): Promise<T> {
  return withinTimeout('Postgres', 'check that the database is up and reachable', timeout, what, command);
}

/** A ttl in whole ms, at least 1 (what the schema's functions take). */
export function wholeMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}
