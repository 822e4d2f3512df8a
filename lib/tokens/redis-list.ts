import type { SamsaraRegion } from '../endpoints.js';
import type { NewCredentials } from './credentials.js';
import { positional, SCRIPTS, type ScriptedClient } from './redis-scripts.js';
import { credPattern, keyOfCredKey } from './redis-schema.js';
import type { OrganizationStatus } from './store.js';

/** A connection that can SCAN: a standalone client, or one master of a Cluster. */
export interface ScanClient {
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
}

/** What a SCAN over a store's credentials keys needs of it. */
export interface ScanSource {
  /** The connections to SCAN: the client itself, or every master of a Cluster. */
  scanners(): ScanClient[];
  prefix: string;
  /** ioredis's `keyPrefix`: SCAN matches and returns full key names, the other commands add it. */
  keyPrefix: string;
  /** Keys per SCAN page. */
  batchSize: number;
  call<T>(what: string, command: () => Promise<T>): Promise<T>;
}

/**
 * Every credentials key under the prefix (current, retired-only and tombstones), as SCAN pages of
 * their full names, over each master. SCAN, never KEYS, which blocks Redis for as long as it walks
 * the whole keyspace.
 */
export async function* credKeyPages(source: ScanSource): AsyncGenerator<string[]> {
  const pattern = credPattern(source.keyPrefix, source.prefix);
  for (const scanner of source.scanners()) {
    let cursor = '0';
    do {
      const [next, found] = await source.call('scan', () =>
        scanner.scan(cursor, 'MATCH', pattern, 'COUNT', source.batchSize),
      );
      cursor = next;
      yield found;
    } while (cursor !== '0');
  }
}

/** What the listing needs of its store. */
export interface ListSource extends ScanSource {
  commands: ScriptedClient;
  /** Opens a sealed grant written before the status fields existed. */
  open(sealed: string, credKey: string): NewCredentials;
}

/**
 * Every organization with a current grant, page by page: a SCAN page, then one status script per
 * key of the page, sent together. At most one page of statuses is held at a time (`batchSize`),
 * so memory does not grow with the number of organizations.
 */
export async function* listOrganizations(source: ListSource): AsyncGenerator<OrganizationStatus> {
  for await (const found of credKeyPages(source)) {
    const keys = found.map((key) => key.slice(source.keyPrefix.length));
    const statuses = await Promise.all(
      keys.map((credKey) =>
        source.call('status read', () =>
          source.commands.samsaraTokenStatus(...positional(SCRIPTS.samsaraTokenStatus, { key: credKey })),
        ),
      ),
    );
    for (const [i, credKey] of keys.entries()) {
      const fields = statuses[i];
      if (!fields) continue;
      yield statusOf(keyOfCredKey('', source.prefix, credKey), fields, credKey, source);
    }
  }
}

function statusOf(orgId: string, fields: (string | null)[], credKey: string, source: ListSource): OrganizationStatus {
  const [version, grantId, expiresAt, writtenAt, region, clientID, sealed] = fields;
  const opened = expiresAt ? undefined : sealed ? source.open(sealed, credKey) : undefined;
  return {
    orgId,
    grantId: grantId ?? opened?.grantId ?? '',
    expiresAt: Number(expiresAt ?? opened?.expiresAt ?? 0),
    version: Number(version),
    writtenAt: Number(writtenAt ?? 0),
    ...(region ? { region: region as SamsaraRegion } : {}),
    ...(clientID ? { clientID } : {}),
  };
}
