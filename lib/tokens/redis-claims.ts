import { holderName } from './holder.js';
import { positional, SCRIPTS, type ScriptedClient } from './redis-scripts.js';
import type { ClaimOutcome } from './store.js';

/** How RedisTokenStore runs a command: bounded in time, every failure a `StoreUnavailableError`. */
type Call = <T>(what: string, command: () => Promise<T>) => Promise<T>;

/**
 * `TokenStore.claim` on Redis: `SET NX PX` with a unique holder name (`holderName`), so that
 * completing and releasing (one script) touch the claim only while it is still this holder's.
 */
export async function claimOn(
  commands: ScriptedClient,
  call: Call,
  claimKey: string,
  ttlMs: number,
): Promise<ClaimOutcome> {
  const token = holderName();
  const taken = await call('claim', () =>
    commands.samsaraClaim(...positional(SCRIPTS.samsaraClaim, { claimKey, holder: token, ttlMs: wholeMs(ttlMs) })),
  );
  if (taken !== 1) return { claim: null, done: taken === 2 };
  const settle = async (keepFor: string): Promise<void> => {
    await call('claim settle', () =>
      commands.samsaraClaimSettle(
        ...positional(SCRIPTS.samsaraClaimSettle, { claimKey, holder: token, doneTtlMs: keepFor }),
      ),
    );
  };
  return { claim: { complete: (ttl) => settle(String(wholeMs(ttl))), release: () => settle('') } };
}

/** PX takes a whole number of ms, at least 1. */
function wholeMs(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}
