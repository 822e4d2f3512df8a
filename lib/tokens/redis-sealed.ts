import type { RedisClientLike } from './redis-client.js';
import type { ScanClient } from './redis-list.js';
import { checkSealedAs, skippedAt, type ImportOutcome, type SealedGrantRecord } from './sealed-record.js';

// RedisTokenStore's sealed records (see sealed-record.ts): every key listed, exported and
// imported as it is stored, without opening a value. The hash fields are redis-scripts.ts's.

const SEALED_SCRIPTS = {
  // ARGV: version, sealed ('' for a tombstone), grant id, fingerprint, expiry, written at,
  // region, client id, revivable ('' for none), tombstone ttl (ms), channel, then triples of a
  // retired grant's id, sealed value and fingerprint. { 0, 0 }: imported; else { the stored
  // version, as new or newer, the source's grants kept here as retired }. Nothing held is
  // dropped: a current grant of another id is retired, retired grants already here stay as they are.
  samsaraTokenImport: {
    numberOfKeys: 1,
    lua: `
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '')
local ids, known = {}, {}
for each in string.gmatch(redis.call('HGET', KEYS[1], 'q') or '', '%S+') do ids[#ids + 1] = each; known[each] = true end
if v ~= nil and v >= tonumber(ARGV[1]) then
  -- Newer here: nothing replaced, but the source's grants this key does not know are kept, retired.
  if (redis.call('HGET', KEYS[1], 'd') or '') ~= '' then known[redis.call('HGET', KEYS[1], 'c') or ''] = true end
  local added = 0
  local function add(id, sealed, fp)
    if id == '' or known[id] then return end
    redis.call('HSET', KEYS[1], 'g:' .. id, sealed, 'h:' .. id, fp)
    ids[#ids + 1] = id
    known[id] = true
    added = added + 1
  end
  if ARGV[2] ~= '' then add(ARGV[3], ARGV[2], ARGV[4]) end
  for i = 12, #ARGV, 3 do add(ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
  if added > 0 then
    redis.call('HSET', KEYS[1], 'q', table.concat(ids, ' '))
    redis.call('PERSIST', KEYS[1])
  end
  return { v, added }
end
local live = ARGV[2] ~= ''
local function keep(id, sealed, fp)
  if id == '' or known[id] or (live and id == ARGV[3]) then return end
  redis.call('HSET', KEYS[1], 'g:' .. id, sealed, 'h:' .. id, fp)
  ids[#ids + 1] = id
  known[id] = true
end
local current = redis.call('HGET', KEYS[1], 'd') or ''
if current ~= '' then keep(redis.call('HGET', KEYS[1], 'c') or '', current, redis.call('HGET', KEYS[1], 'f') or '') end
for i = 12, #ARGV, 3 do keep(ARGV[i], ARGV[i + 1], ARGV[i + 2]) end
if live and known[ARGV[3]] then
  local kept = {}
  for _, id in ipairs(ids) do if id ~= ARGV[3] then kept[#kept + 1] = id end end
  ids = kept
  redis.call('HDEL', KEYS[1], 'g:' .. ARGV[3], 'h:' .. ARGV[3])
end
redis.call('HSET', KEYS[1], 'q', table.concat(ids, ' '), 'v', ARGV[1], 'd', ARGV[2])
redis.call('HDEL', KEYS[1], 'k', 'r')
if live then
  redis.call('HSET', KEYS[1], 'c', ARGV[3], 'f', ARGV[4], 'e', ARGV[5], 'w', ARGV[6], 'rg', ARGV[7], 'ci', ARGV[8])
else
  redis.call('HDEL', KEYS[1], 'c', 'f', 'e', 'w', 'rg', 'ci')
  if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'r', ARGV[9]) end
end
if not live and #ids == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[10]) else redis.call('PERSIST', KEYS[1]) end
redis.call('PUBLISH', ARGV[11], ARGV[1])
return { 0, 0 }`,
  },
} as const;

interface SealedCommands {
  hgetall(key: string): Promise<Record<string, string | undefined>>;
  samsaraTokenImport(credKey: string, ...args: (string | number)[]): Promise<[number, number]>;
}

/** What the sealed records need of a RedisTokenStore. */
export interface RedisSealedSource {
  client: RedisClientLike;
  /** The connections to SCAN: the client itself, or every master of a Cluster. */
  scanners(): ScanClient[];
  prefix: string;
  /** ioredis's `keyPrefix` (SCAN returns full names). */
  keyPrefix: string;
  batchSize: number;
  tombstoneTtl: number;
  credKey(key: string): string;
  channel(credKey: string): string;
  call<T>(what: string, command: () => Promise<T>): Promise<T>;
}

const defined = new WeakSet<object>();

function commandsOf(source: RedisSealedSource): SealedCommands {
  if (!defined.has(source.client)) {
    for (const [name, definition] of Object.entries(SEALED_SCRIPTS)) source.client.defineCommand(name, definition);
    defined.add(source.client);
  }
  return source.client as unknown as SealedCommands;
}

/** Every credentials key under the prefix (current, retired-only and tombstones), SCANned page by page. */
export async function* sealedKeysOf(source: RedisSealedSource): AsyncGenerator<string> {
  const head = `${source.prefix}{org:`;
  // Ends with the hash tag's `}`: lock and webhook keys (`…}:lock`) never match.
  const pattern = `${(source.keyPrefix + head).replace(/[*?[\]\\]/g, '\\$&')}*}`;
  for (const scanner of source.scanners()) {
    let cursor = '0';
    do {
      const [next, found] = await source.call('scan', () =>
        scanner.scan(cursor, 'MATCH', pattern, 'COUNT', source.batchSize),
      );
      cursor = next;
      for (const name of found) yield decodeURIComponent(name.slice(source.keyPrefix.length + head.length, -1));
    } while (cursor !== '0');
  }
}

/** The key's hash, read at once (HGETALL is atomic), as a sealed record. */
export async function exportSealedFrom(source: RedisSealedSource, key: string): Promise<SealedGrantRecord | null> {
  const credKey = source.credKey(key);
  const fields = await source.call('export', () => commandsOf(source).hgetall(credKey));
  if (fields.v === undefined) return null;
  const retired = (fields.q ?? '')
    .split(' ')
    .filter(Boolean)
    .flatMap((id) => {
      const sealed = fields[`g:${id}`];
      return sealed ? [{ grantId: id, sealed, fingerprint: fields[`h:${id}`] ?? '' }] : [];
    });
  const current = fields.d
    ? {
        grantId: fields.c ?? '',
        sealed: fields.d,
        fingerprint: fields.f ?? '',
        expiresAt: Number(fields.e ?? 0),
        writtenAt: Number(fields.w ?? 0),
        ...(fields.rg ? { region: fields.rg } : {}),
        ...(fields.ci ? { clientID: fields.ci } : {}),
      }
    : null;
  return {
    sealedAs: credKey,
    version: Number(fields.v),
    current,
    ...(fields.r ? { revivable: Number(fields.r) } : {}),
    retired,
  };
}

/** One script: the record written only over an older version of the key (see `SealedStore.importSealed`). */
export async function importSealedInto(
  source: RedisSealedSource,
  key: string,
  record: SealedGrantRecord,
): Promise<ImportOutcome> {
  const credKey = source.credKey(key);
  checkSealedAs(record, credKey);
  const c = record.current;
  const [found, kept] = await source.call('import', () =>
    commandsOf(source).samsaraTokenImport(
      credKey,
      record.version,
      c?.sealed ?? '',
      c?.grantId ?? '',
      c?.fingerprint ?? '',
      c?.expiresAt ?? 0,
      c?.writtenAt ?? 0,
      c?.region ?? '',
      c?.clientID ?? '',
      record.revivable ?? '',
      source.tombstoneTtl,
      source.channel(credKey),
      ...record.retired.flatMap((grant) => [grant.grantId, grant.sealed, grant.fingerprint]),
    ),
  );
  return found === 0 ? { imported: true } : skippedAt(found, record, kept);
}
