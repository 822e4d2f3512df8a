import { SamsaraError, StoreUnavailableError } from '../errors/index.js';
import { listening, publish, type StoreLostEvent } from '../events.js';

/**
 * A store operation's failure as this package reports it: its own errors as they are, anything
 * else (a driver's error, a timeout) as `StoreUnavailableError`, naming what failed.
 */
export function storeFailure(err: unknown, what: string): SamsaraError {
  if (err instanceof SamsaraError) return err;
  const reason = err instanceof Error ? err.message : 'unknown error';
  return new StoreUnavailableError(`The token store failed the ${what}: ${reason}`, { cause: err });
}

/**
 * `command`'s answer, or the error `late()` makes once `timeout` ms have passed without one (the
 * command itself is not cancelled: a backend that answers late changes nothing here).
 */
export async function beforeTimeout<T>(timeout: number, late: () => Error, command: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), timeout);
  });
  try {
    return await Promise.race([command(), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs one command of a store's backend within `timeout` ms: every failure, the timeout included,
 * becomes {@link storeFailure}'s `StoreUnavailableError`, naming `what` and the backend (`Redis`,
 * `Postgres`); `hint` ends the timeout's message (what to check).
 */
export async function withinTimeout<T>(
  backend: string,
  hint: string,
  timeout: number,
  what: string,
  command: () => Promise<T>,
): Promise<T> {
  const late = (): Error =>
    new StoreUnavailableError(`The token store (${backend}) did not answer the ${what} within ${timeout} ms; ${hint}.`);
  try {
    return await beforeTimeout(timeout, late, command);
  } catch (err) {
    throw storeFailure(err, `${what} (${backend})`);
  }
}

/**
 * Runs a store operation for `key`; a failure becomes {@link storeFailure}'s, and is published on
 * the store-failure channel (the outcome is `what`: read, write, lock...).
 */
export async function guarded<T>(what: string, operation: () => Promise<T>, key = ''): Promise<T> {
  // The hot path (one read per call) reads no clock unless someone listens.
  const started = listening('storeFailure') ? performance.now() : 0;
  try {
    return await operation();
  } catch (err) {
    const failure = storeFailure(err, what);
    // A seal error is a store that answered: bad data, not an outage, yet on-call needs it too.
    publish('storeFailure', () => ({
      orgId: key,
      outcome: what,
      durationMs: performance.now() - started,
      code: failure.code,
      message: failure.message,
    }));
    throw failure;
  }
}

/**
 * Tells the store-lost channel that a store's epoch marker vanished: what found it (`trigger`),
 * the check's time since `started`, what was lost (`message`), and on which node, if one.
 */
export function publishStoreLost(
  trigger: StoreLostEvent['trigger'],
  started: number,
  message: string,
  node?: string,
): void {
  publish('storeLost', () => ({
    orgId: '',
    outcome: 'lost-data',
    trigger,
    durationMs: performance.now() - started,
    message,
    ...(node !== undefined && { node }),
  }));
}
