import { SamsaraError, StoreUnavailableError } from '../errors/index.js';

/**
 * A store operation's failure as this package reports it: its own errors as they are, anything
 * else (a driver's error, a timeout) as `StoreUnavailableError`, naming what failed.
 */
export function storeFailure(err: unknown, what: string): SamsaraError {
  if (err instanceof SamsaraError) return err;
  const reason = err instanceof Error ? err.message : 'unknown error';
  return new StoreUnavailableError(`The token store failed the ${what}: ${reason}`, { cause: err });
}

/** Runs a store operation; a failure becomes {@link storeFailure}'s. */
export async function guarded<T>(what: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    throw storeFailure(err, what);
  }
}
