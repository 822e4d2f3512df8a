import type { Clock } from './clock.js';

/** What {@link waitForChangeOf} needs of its store, for one key. */
export interface ChangeSource {
  /** Where the wait reads the time and pauses: real time for a server's store, the store's own clock in memory. */
  clock: Clock;
  /**
   * Subscribes to the key's messages: `recheck` sends the wait to read the state again, `end` ends
   * it. Undefined when the store has none (closed, or in memory: its changes call `recheck`).
   */
  subscription: ((recheck: () => void, end: () => void) => { ready: Promise<unknown>; unlisten(): void }) | undefined;
  /** The key's version (0: none) and how many ms until its lock is free (<= 0: free; Infinity: no expiry). */
  state(): Promise<{ version: number; lockMs: number }>;
  /** Mean ms between polls (jittered); Infinity: no poll, every change is a message. */
  pollInterval: number;
}

/**
 * The event loop's next turn, as it was when this module loaded: a test's fake timers installed
 * later do not hold back a clean-up that is nobody's wait (only stores with a subscription defer
 * one, and they wait in real time).
 */
const nextTurn = setImmediate;

/**
 * `TokenStore.waitForChange` of every store: resolves once the version differs from
 * `sinceVersion`, the lock is free, or `timeoutMs` has passed on the source's clock. Subscribed
 * first, then the state read (so a change between the two is not missed); the pause after a read
 * ends early on a message, on the poll (which covers a subscription that is down), and at the
 * lock's expiry (a holder that died never says so).
 */
export async function waitForChangeOf(source: ChangeSource, sinceVersion: number, timeoutMs: number): Promise<void> {
  if (!(timeoutMs > 0)) return;
  const { clock } = source;
  const over = new AbortController();
  let poked = new AbortController();
  let ended = false;
  let end!: () => void;
  // A message that ends the wait resolves it directly: aborting wakes the pauses through
  // EventTarget, which costs a tenth of a millisecond after an idle gap, and waiters are waiting.
  const message = new Promise<true>((resolve) => {
    end = () => {
      ended = true;
      resolve(true);
    };
  });
  const subscription = source.subscription?.(() => poked.abort(), end);
  const settle = async (): Promise<void> => {
    await subscription?.ready;
    // Ended by a message, it reads nothing more (its timers are cleared a turn later).
    while (!over.signal.aborted && !ended) {
      // Armed before the read: a message that arrives during it cuts the next pause short.
      poked = new AbortController();
      const { version, lockMs } = await source.state();
      if (version !== sinceVersion || lockMs <= 0) return;
      const jittered = source.pollInterval * (0.5 + Math.random());
      // Bounded by the timeout: no poll and a lock without expiry make Infinity, and a timer that
      // long would fire at once.
      await clock.sleep(Math.min(jittered, lockMs, timeoutMs), AbortSignal.any([poked.signal, over.signal]));
    }
  };
  const cleanUp = (): void => {
    over.abort();
    subscription?.unlisten();
  };
  let byMessage = false;
  try {
    // The timeout ends the wait even while a state read is in progress.
    byMessage = (await Promise.race([message, settle(), clock.sleep(timeoutMs, over.signal)])) === true;
  } finally {
    // Ended by a message: the waiter resumes first, and the timers are cleared and the channel let
    // go on the next turn of the event loop (the store may unsubscribe later still).
    if (byMessage) nextTurn(cleanUp);
    else cleanUp();
  }
}
