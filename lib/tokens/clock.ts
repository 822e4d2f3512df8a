/**
 * Where the token layer reads the time and waits: lock expiries, backoffs, waits for another
 * process. The default is the system's (`Date.now` and `setTimeout`, looked up at each call, so a
 * test's fake timers apply); a test may pass its own.
 *
 * @example
 * ```ts
 * import FakeTimers from '@sinonjs/fake-timers';
 * const fake = FakeTimers.createClock(Date.now());
 * const clock: Clock = { now: () => fake.now, sleep: (ms) => new Promise((resolve) => void fake.setTimeout(resolve, ms)) };
 * const tokens = new TokenManager({ clock });
 * ```
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds, or at once when `signal` aborts (its timer then cleared). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The system clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
    }),
};
