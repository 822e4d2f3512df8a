import { inTransaction, type PostgresPoolLike } from './postgres-client.js';
import { checkSealedAs, skippedAt, type ImportOutcome, type SealedGrantRecord } from './sealed-record.js';

// PostgresTokenStore's sealed records (see sealed-record.ts): every key listed, exported and
// imported as its rows stand, without opening a value. The tables are postgres-schema.ts's.

/** What the sealed records need of a PostgresTokenStore. */
export interface PostgresSealedSource {
  pool: PostgresPoolLike;
  /** The schema, quoted. */
  s: string;
  channel: string;
  batchSize: number;
  sealedAs(key: string): string;
  /** A query once the schema is ready, bounded by the store's timeout. */
  query<R>(what: string, text: string, values: unknown[]): Promise<R[]>;
  /** Resolves once the schema is ready. */
  ready(): Promise<void>;
}

interface GrantRow {
  version: string;
  sealed: string | null;
  grant_id: string | null;
  fingerprint: string | null;
  expires_at: string | null;
  written_at: string | null;
  region: string | null;
  client_id: string | null;
  revivable: string | null;
  retired: { grantId: string; sealed: string; fingerprint: string }[];
}

/** Every key with a row (current, retired-only and tombstones), in key order, a page at a time. */
export async function* sealedKeysIn(source: PostgresSealedSource): AsyncGenerator<string> {
  let after: string | null = null;
  for (;;) {
    const rows: { key: string }[] = await source.query<{ key: string }>(
      'list',
      `SELECT key FROM ${source.s}.grants WHERE ($1::text IS NULL OR key > $1::text) ORDER BY key LIMIT $2`,
      [after, source.batchSize],
    );
    for (const row of rows) yield row.key;
    if (rows.length < source.batchSize) return;
    after = rows.at(-1)?.key ?? null;
  }
}

/** The key's row and its retired grants, read by one statement (one snapshot). */
export async function exportSealedFromRows(
  source: PostgresSealedSource,
  key: string,
): Promise<SealedGrantRecord | null> {
  const row = (
    await source.query<GrantRow>(
      'export',
      `SELECT g.version, g.sealed, g.grant_id, g.fingerprint, g.expires_at, g.written_at, g.region, g.client_id,
            g.revivable, coalesce((SELECT json_agg(json_build_object('grantId', r.grant_id, 'sealed', r.sealed,
            'fingerprint', r.fingerprint) ORDER BY r.seq) FROM ${source.s}.retired r WHERE r.key = g.key), '[]') AS retired
       FROM ${source.s}.grants g WHERE g.key = $1`,
      [key],
    )
  ).at(0);
  if (!row) return null;
  const current = row.sealed
    ? {
        grantId: row.grant_id ?? '',
        sealed: row.sealed,
        fingerprint: row.fingerprint ?? '',
        expiresAt: Number(row.expires_at ?? 0),
        writtenAt: Number(row.written_at ?? 0),
        ...(row.region ? { region: row.region } : {}),
        ...(row.client_id ? { clientID: row.client_id } : {}),
      }
    : null;
  return {
    sealedAs: source.sealedAs(key),
    version: Number(row.version),
    current,
    ...(row.revivable ? { revivable: Number(row.revivable) } : {}),
    retired: row.retired,
  };
}

/**
 * One transaction, the key's row locked: the record written only over an older version (see
 * `SealedStore.importSealed`), the destination's other grants retired or kept, a NOTIFY on commit.
 */
export async function importSealedIntoRows(
  source: PostgresSealedSource,
  key: string,
  record: SealedGrantRecord,
): Promise<ImportOutcome> {
  checkSealedAs(record, source.sealedAs(key));
  await source.ready();
  const s = source.s;
  return inTransaction(source.pool, async (client) => {
    await client.query(`INSERT INTO ${s}.grants (key, version) VALUES ($1, 0) ON CONFLICT (key) DO NOTHING`, [key]);
    const { rows } = await client.query(
      `SELECT version, sealed, grant_id, fingerprint FROM ${s}.grants WHERE key = $1 FOR UPDATE`,
      [key],
    );
    const found = rows[0] as {
      version: string;
      sealed: string | null;
      grant_id: string | null;
      fingerprint: string | null;
    };
    const c = record.current;
    const keep = `INSERT INTO ${s}.retired (key, grant_id, sealed, fingerprint) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (key, grant_id) DO NOTHING RETURNING grant_id`;
    if (Number(found.version) >= record.version) {
      // Newer here: nothing replaced, but the record's grants this key does not know are kept, retired.
      let kept = 0;
      for (const grant of c ? [c, ...record.retired] : record.retired) {
        if (found.sealed && grant.grantId === found.grant_id) continue;
        kept += (await client.query(keep, [key, grant.grantId, grant.sealed, grant.fingerprint])).rows.length;
      }
      return skippedAt(Number(found.version), record, kept);
    }
    if (found.sealed && found.grant_id && found.grant_id !== c?.grantId) {
      await client.query(keep, [key, found.grant_id, found.sealed, found.fingerprint ?? '']);
    }
    for (const grant of record.retired) {
      if (grant.grantId !== c?.grantId) await client.query(keep, [key, grant.grantId, grant.sealed, grant.fingerprint]);
    }
    if (c) await client.query(`DELETE FROM ${s}.retired WHERE key = $1 AND grant_id = $2`, [key, c.grantId]);
    await client.query(
      `UPDATE ${s}.grants SET version = $2, sealed = $3, grant_id = $4, fingerprint = $5, expires_at = $6,
              written_at = $7, region = $8, client_id = $9, revivable = $10 WHERE key = $1`,
      [
        key,
        record.version,
        c?.sealed ?? null,
        c?.grantId ?? null,
        c?.fingerprint ?? null,
        c?.expiresAt ?? null,
        c?.writtenAt ?? null,
        c?.region ?? null,
        c?.clientID ?? null,
        c ? null : (record.revivable ?? null),
      ],
    );
    await client.query('SELECT pg_notify($1, $2)', [source.channel, `${record.version} ${key}`]);
    return { imported: true };
  });
}
