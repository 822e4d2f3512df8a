import { holderName } from './holder.js';
import { wholeMs, type BoundedQuery } from './postgres-bounded.js';
import type { Credentials, NewCredentials } from './credentials.js';
import type { DueRead, LockHandle } from './store.js';

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
  return { ...currentAt(row, open), ...heldIn(query, s, key, token) };
}

/**
 * `TokenStore.getLockingIfDue` on Postgres: one statement reads the key's row and, only when its
 * expiry column is at or before `dueBy` (a `CASE`, which evaluates its subquery only then; 0, as
 * an import of a grant whose expiry was unknown writes, is not due), calls the schema's `lock`
 * function. Taken, the credentials are the ones `lock` read under the lease (what stands now);
 * otherwise the row read.
 */
export async function readLockingIn(
  query: BoundedQuery,
  s: string,
  key: string,
  dueBy: number,
  ttlMs: number,
  open: (sealed: string) => NewCredentials,
): Promise<DueRead> {
  const token = holderName();
  const rows = (await query(
    'read',
    `SELECT g.version, g.sealed, CASE WHEN g.sealed IS NOT NULL AND g.expires_at > 0 AND g.expires_at <= $4
       THEN (SELECT to_json(l) FROM ${s}.lock($1, $2, $3) l) END AS lock
     FROM ${s}.grants g WHERE g.key = $1`,
    [key, token, wholeMs(ttlMs), Math.floor(dueBy)],
  )) as {
    version: string;
    sealed: string | null;
    lock: { taken: boolean; version: number | null; sealed: string | null } | null;
  }[];
  const row = rows.at(0);
  if (!row?.lock) return { credentials: row ? openedRow(row, open) : null };
  if (!row.lock.taken) return { credentials: openedRow(row, open), lock: null };
  const held = heldIn(query, s, key, token);
  let credentials: Credentials | null;
  try {
    credentials = openedRow(row.lock, open);
  } catch (err) {
    await held.release().catch(() => undefined);
    throw err;
  }
  if (!credentials) {
    // Removed between the read and the lease: nothing to refresh.
    await held.release().catch(() => undefined);
    return { credentials };
  }
  return { credentials, lock: { ...held, current: credentials } };
}

/** A taken lease's `extend` and `release`, by its holder's token. */
function heldIn(query: BoundedQuery, s: string, key: string, token: string): Pick<LockHandle, 'extend' | 'release'> {
  return {
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
  try {
    return { current: openedRow(row, open) };
  } catch {
    return {};
  }
}

/** A grant's row as `get` answers it: opened, or null for none (no row, a tombstone). */
export function openedRow(
  row: { version: string | number | null; sealed: string | null },
  open: (sealed: string) => NewCredentials,
): Credentials | null {
  return row.sealed ? { ...open(row.sealed), version: Number(row.version) } : null;
}
