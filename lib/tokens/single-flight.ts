/**
 * One piece of work per key in this process: a caller that arrives while it is in progress gets
 * the same promise. The entry is cleared when the work settles, beside the callers' chain (its
 * `then` is registered first), so a caller resuming afterwards that asks again starts afresh.
 */
export class SingleFlight<T> {
  readonly #pending = new Map<string, Promise<T>>();

  /** The work in progress for `key`, or `start()`'s. */
  run(key: string, start: () => Promise<T>): Promise<T> {
    const pending = this.#pending.get(key);
    if (pending) return pending;
    const work = start();
    const clear = (): void => {
      if (this.#pending.get(key) === work) this.#pending.delete(key);
    };
    work.then(clear, clear);
    this.#pending.set(key, work);
    return work;
  }

  /** Later callers of `key` start afresh, even while the current work goes on. */
  drop(key: string): void {
    this.#pending.delete(key);
  }
}
