import { createClock } from '@sinonjs/fake-timers';
import timersPromises from 'node:timers/promises';
import type { Clock } from 'passport-samsara';

/** How long (real time) the helpers below wait for the code under test before calling it stuck. */
const STUCK_MS = 5_000;

/**
 * A `Clock` on fake time, for `new TokenManager({ clock })` and `new MemoryTokenStore({ clock })`.
 * Its time moves only when the test moves it, while real I/O (HTTP to the emulator, Redis) keeps
 * running on real timers: only the waits of the code that takes this clock are fake.
 */
export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, firing every wait that falls due and letting what it wakes run. */
  tick(ms: number): Promise<void>;
  /**
   * Moves time to the first pending wait and fires it alone (a wait it sets up is left pending,
   * however short); resolves with the fake ms that took.
   */
  next(): Promise<number>;
  /** Waits pending on this clock now. */
  pending(): number;
  /** Resolves (after real I/O as needed) once `count` waits are pending on this clock. */
  waiting(count?: number): Promise<void>;
  /**
   * The fake time `promise` took to settle, moving the clock to each next wait whenever one is
   * pending. Only where every wait on this clock is to run its course (backoffs, lock expiries):
   * a wait pending while real I/O is in flight (a deadline) would be run out before the I/O ends.
   */
  timeTaken(promise: Promise<unknown>): Promise<number>;
  /** A `node:timers/promises` `setTimeout` on this clock (see {@link fakeTimersPromises}). */
  readonly promisesSetTimeout: typeof timersPromises.setTimeout;
}

/** A fake clock starting at `start` (default: now, so the emulator's and seeded expiries agree). */
export function fakeClock(start = Date.now()): FakeClock {
  const fake = createClock(start);
  const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const timer = fake.setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      function done(): void {
        fake.clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
    });
  const promisesSetTimeout = (<T>(ms?: number, value?: T, options: { signal?: AbortSignal } = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const { signal } = options;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const timer = fake.setTimeout(() => {
        signal?.removeEventListener('abort', abort);
        resolve(value as T);
      }, ms ?? 1);
      signal?.addEventListener('abort', abort, { once: true });
      function abort(): void {
        fake.clearTimeout(timer);
        reject(signal!.reason);
      }
    })) as typeof timersPromises.setTimeout;
  return {
    now: () => fake.now,
    sleep,
    tick: async (ms) => {
      await fake.tickAsync(ms);
    },
    next: async () => {
      const start = fake.now;
      await fake.nextAsync();
      return fake.now - start;
    },
    pending: () => fake.countTimers(),
    async waiting(count = 1) {
      await until(() => fake.countTimers() >= count, `${count} wait(s) on the fake clock`);
    },
    async timeTaken(promise) {
      const start = fake.now;
      let settled = false;
      promise.then(
        () => (settled = true),
        () => (settled = true),
      );
      for (;;) {
        await realTurn();
        if (settled) return fake.now - start;
        if (fake.countTimers() === 0)
          await until(() => settled || fake.countTimers() > 0, 'the promise to settle or wait on the clock');
        else await fake.nextAsync();
      }
    },
    promisesSetTimeout,
  };
}

/**
 * Makes `node:timers/promises`' `setTimeout` wait on `clock` until `restore()` (looked up at call
 * time, it is what `req.samsara.fetch` sleeps on for a 429, and the emulator for its delays).
 * Everything else, real I/O included, keeps real time.
 */
export function fakeTimersPromises(clock: FakeClock): { restore(): void } {
  const original = timersPromises.setTimeout;
  timersPromises.setTimeout = clock.promisesSetTimeout;
  return {
    restore: () => {
      timersPromises.setTimeout = original;
    },
  };
}

/**
 * Resolves once `check` holds, polled on real time: a condition, never a duration. Throws after
 * a few seconds, naming `what`, rather than leaving a stuck test to mocha's timeout.
 */
export async function until(check: () => boolean | Promise<boolean>, what = 'the condition'): Promise<void> {
  const deadline = performance.now() + STUCK_MS;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`Still waiting for ${what} after ${STUCK_MS} ms.`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** One turn of the real event loop: promises settle and ready I/O callbacks run. */
function realTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
