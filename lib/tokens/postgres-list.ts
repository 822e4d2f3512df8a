import type { OrganizationStatus } from './store.js';

/** A row of the `grants` table as listing reads it (bigints come as strings). */
export interface StatusRow {
  key: string;
  grant_id: string;
  expires_at: string;
  version: string;
  written_at: string;
  region: string | null;
  client_id: string | null;
}

/**
 * `list()` of PostgresTokenStore: pages of `batchSize` rows after the last key seen (keyset
 * pagination, never OFFSET), so memory holds one page however many organizations there are.
 */
export async function* listOrganizationsIn(
  page: (after: string | null) => Promise<StatusRow[]>,
  batchSize: number,
): AsyncIterable<OrganizationStatus> {
  let after: string | null = null;
  for (;;) {
    const rows: StatusRow[] = await page(after);
    for (const row of rows) yield statusOf(row);
    if (rows.length < batchSize) return;
    after = rows[rows.length - 1].key;
  }
}

function statusOf(row: StatusRow): OrganizationStatus {
  return {
    orgId: row.key,
    grantId: row.grant_id,
    expiresAt: Number(row.expires_at),
    version: Number(row.version),
    writtenAt: Number(row.written_at),
    ...(row.region !== null && { region: row.region as OrganizationStatus['region'] & string }),
    ...(row.client_id !== null && { clientID: row.client_id }),
  };
}
