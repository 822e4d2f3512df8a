import { Refusal, apiError } from './replies.js';
import type { EmulatorState } from './state.js';

// Samsara's rate limits as sliding windows (one second, or a minute for the webhook writes): per
// access token, per organization (every token and app of it together), and per organization on
// some endpoints. A request must fit in
// every window that applies to it; one that does not is counted in none of them, so a client
// hammering through 429s does not push its own retry further away.

/** One window a request counts in. */
export interface RateWindow {
  /** Names the window in the state, such as `token:<access token>` or `org:1001`. */
  key: string;
  /** Requests per period. */
  limit: number;
  /** The window's length in ms. Default 1000. */
  periodMs?: number;
  /** For the 429's message: "this access token", "this organization"... */
  what: string;
  /** Which of the emulator's counters (`rateLimitedBy`) a 429 of this window counts in. */
  kind: 'token' | 'organization' | 'endpoint';
}

/**
 * Counts the request in every window, or throws a 429 with a fractional `Retry-After` (seconds,
 * five decimals, like Samsara's `0.40235`): the time until every window has room again.
 */
export function throttle(state: EmulatorState, windows: RateWindow[]): void {
  const now = state.clock();
  let wait = 0;
  let blocking: RateWindow | undefined;
  const recents = windows.map((window) => {
    const period = window.periodMs ?? 1000;
    const recent = (state.requestTimes.get(window.key) ?? []).filter((t) => t > now - period);
    state.requestTimes.set(window.key, recent);
    if (recent.length >= window.limit) {
      // The request fits once enough of the oldest requests have left for one more: with a limit
      // lowered by configure(), that can be more than the first one.
      const leaves = recent[recent.length - Math.ceil(window.limit)] + period - now;
      if (blocking === undefined || leaves > wait) [wait, blocking] = [leaves, window];
    }
    return recent;
  });
  if (blocking) {
    state.counters.rateLimited++;
    state.counters.rateLimitedBy[blocking.kind]++;
    const seconds = Math.max(0.00001, wait / 1000);
    throw new Refusal(
      apiError(429, `Rate limit exceeded: too many requests for ${blocking.what}.`, {
        'retry-after': seconds.toFixed(5),
      }),
    );
  }
  for (const recent of recents) recent.push(now);
}
