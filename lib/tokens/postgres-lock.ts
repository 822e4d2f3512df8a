import { holderName } from './holder.js';
import { wholeMs, type BoundedQuery } from './postgres-bounded.js';
import type { Credentials, NewCredentials } from './credentials.js';
import type { LockHandle } from './store.js';

/**
 * `TokenStore.lock` on Postgres: the schema's `lock` function (insert the lease row, or take over
 * an expired one) with a unique holder name (`holderName`); `extend` and `release` touch the row
 * only with that token (`extend` takes it again once it vanished). The handle's `current` is the
 * grant read in the same call, opened by `open` (left out if it does not open: the holder reads
 * it itself). Null: someone else holds it. `s` is the quoted schema.
 */
export async function lockIn(
  query: BoundedQuery,
  s: string,
  key: string,
  ttlMs: number,
  open: (sealed: string) => NewCredentials,
): Promise<LockHandle | null> {
  const token = holderName();
  const rows = (await query('lock', `SELECT * FROM ${s}.lock($1, $2, $3)`, [key, token, wholeMs(ttlMs)])) as {
    taken: boolean;
    version: string | null;
    sealed: string | null;
  }[];
  const row = rows.at(0);
  if (!row?.taken) return null;
  return {
    ...currentAt(row, open),
    extend: async (ms) => {
      const held = await query('lock extension', `SELECT ${s}.extend($1, $2, $3) AS held`, [key, token, wholeMs(ms)]);
      return (held.at(0) as { held: boolean } | undefined)?.held ?? false;
    },
    release: async () => {
      await query('unlock', `SELECT ${s}.unlock($1, $2)`, [key, token]);
    },
  };
}

/**
 * Credentials read with the lock, or carried by a write's notification; none (the caller reads
 * them itself) if they do not open.
 */
export function currentAt(
  row: { version: string | number | null; sealed: string | null },
  open: (sealed: string) => NewCredentials,
): { current?: Credentials | null } {
  if (!row.sealed) return { current: null };
  try {
    return { current: { ...open(row.sealed), version: Number(row.version) } };
  } catch {
    return {};
  }
}
