import { pause } from './pause.js';

/** What {@link waitForChangeOf} needs of its store, for one key. */
export interface WaitSource {
  /** Subscribes `wake` to the key's notifications; undefined once the store is closed (poll only). */
  subscription: ((wake: () => void) => { ready: Promise<void>; unlisten(): void }) | undefined;
  /** The key's version (0: no row) and its lease's remaining ms (<= 0: free). */
  state(): Promise<{ version: number; lockMs: number }>;
  /** Mean ms between polls. */
  pollInterval: number;
}

/**
 * `waitForChange` of PostgresTokenStore: resolves once the version differs from `sinceVersion`,
 * the lease is free, or `deadline` passes. Subscribed first, then the state read (so a change
 * between the two is not missed); any notification for the key (a write, a removal, an unlock)
 * ends the wait, and a jittered poll, also due at the lease's expiry (a holder that died never
 * notifies), covers a LISTEN connection that is down.
 */
export async function waitForChangeOf(source: WaitSource, sinceVersion: number, deadline: number): Promise<void> {
  if (Date.now() >= deadline) return;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let done = false;
  const deadlineTimer = setTimeout(stop, deadline - Date.now());
  const subscription = source.subscription?.(stop);
  const settle = async (): Promise<void> => {
    await subscription?.ready;
    while (!done) {
      const { version, lockMs } = await source.state();
      if (version !== sinceVersion || lockMs <= 0) return;
      const jittered = source.pollInterval * (0.5 + Math.random());
      await pause(Math.min(jittered, lockMs + 1), stopped);
    }
  };
  try {
    await Promise.race([settle(), stopped]);
  } finally {
    done = true;
    stop();
    clearTimeout(deadlineTimer);
    subscription?.unlisten();
  }
}
