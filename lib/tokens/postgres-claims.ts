import { holderName } from './holder.js';
import { wholeMs, type BoundedQuery } from './postgres-bounded.js';
import type { ClaimOutcome } from './store.js';

/**
 * `TokenStore.claim` on Postgres: the schema's `claim` function (insert, or take over an expired
 * claim) with a unique holder name (`holderName`), so that `settle` (complete or release) touches
 * the claim only while it is still this holder's and pending. `s` is the quoted schema.
 */
export async function claimIn(query: BoundedQuery, s: string, name: string, ttlMs: number): Promise<ClaimOutcome> {
  const token = holderName();
  const rows = (await query('claim', `SELECT ${s}.claim($1, $2, $3) AS taken`, [name, token, wholeMs(ttlMs)])) as {
    taken: number;
  }[];
  const taken = rows.at(0)?.taken;
  if (taken !== 1) return { claim: null, done: taken === 2 };
  const settle = async (keep: number | null): Promise<void> => {
    await query('claim settle', `SELECT ${s}.settle($1, $2, $3)`, [name, token, keep]);
  };
  return { claim: { complete: (ttl) => settle(wholeMs(ttl)), release: () => settle(null) } };
}
