import type { RedisClientLike } from './redis-client.js';
import { credKeyPages, type ScanSource } from './redis-list.js';
import { FIELD, keyOfCredKey, retiredField, retiredFingerprintField } from './redis-schema.js';
import { defineScripts, positional, script } from './redis-scripts.js';
import { checkSealedAs, skippedAt, type ImportOutcome, type SealedGrantRecord } from './sealed-record.js';

// RedisTokenStore's sealed records (see sealed-record.ts): every key listed, exported and
// imported as it is stored, without opening a value. The keys and fields are redis-schema.ts's.

const SEALED_SCRIPTS = {
  // sealed: '' for a tombstone; revivable: '' for none; rest: triples of a retired grant's id,
  // sealed value and fingerprint. { 0, 0 }: imported; else { the stored version, as new or
  // newer, the source's grants kept here as retired }. Nothing held is dropped: a current grant
  // of another id is retired, retired grants already here stay as they are.
  samsaraTokenImport: script(
    ['key'],
    [
      'version',
      'sealed',
      'grantId',
      'fingerprint',
      'expiresAt',
      'writtenAt',
      'region',
      'clientId',
      'revivable',
      'tombstoneTtl',
      'channel',
    ],
    `
local v = tonumber(redis.call('HGET', key, F_VERSION) or '')
local ids, known = {}, {}
for each in string.gmatch(redis.call('HGET', key, F_RETIRED_IDS) or '', '%S+') do ids[#ids + 1] = each; known[each] = true end
if v ~= nil and v >= tonumber(version) then
  -- Newer here: nothing replaced, but the source's grants this key does not know are kept, retired.
  if (redis.call('HGET', key, F_SEALED) or '') ~= '' then known[redis.call('HGET', key, F_GRANT_ID) or ''] = true end
  local added = 0
  local function add(id, sealedGrant, fp)
    if id == '' or known[id] then return end
    redis.call('HSET', key, RETIRED_PREFIX .. id, sealedGrant, RETIRED_FINGERPRINT_PREFIX .. id, fp)
    ids[#ids + 1] = id
    known[id] = true
    added = added + 1
  end
  if sealed ~= '' then add(grantId, sealed, fingerprint) end
  for i = 1, #rest, 3 do add(rest[i], rest[i + 1], rest[i + 2]) end
  if added > 0 then
    redis.call('HSET', key, F_RETIRED_IDS, table.concat(ids, ' '))
    redis.call('PERSIST', key)
  end
  return { v, added }
end
local live = sealed ~= ''
local function keep(id, sealedGrant, fp)
  if id == '' or known[id] or (live and id == grantId) then return end
  redis.call('HSET', key, RETIRED_PREFIX .. id, sealedGrant, RETIRED_FINGERPRINT_PREFIX .. id, fp)
  ids[#ids + 1] = id
  known[id] = true
end
local current = redis.call('HGET', key, F_SEALED) or ''
if current ~= '' then keep(redis.call('HGET', key, F_GRANT_ID) or '', current, redis.call('HGET', key, F_FINGERPRINT) or '') end
for i = 1, #rest, 3 do keep(rest[i], rest[i + 1], rest[i + 2]) end
if live and known[grantId] then
  local kept = {}
  for _, id in ipairs(ids) do if id ~= grantId then kept[#kept + 1] = id end end
  ids = kept
  redis.call('HDEL', key, RETIRED_PREFIX .. grantId, RETIRED_FINGERPRINT_PREFIX .. grantId)
end
redis.call('HSET', key, F_RETIRED_IDS, table.concat(ids, ' '), F_VERSION, version, F_SEALED, sealed)
redis.call('HDEL', key, F_CONTENT_FINGERPRINT, F_REVIVABLE)
if live then
  redis.call('HSET', key, F_GRANT_ID, grantId, F_FINGERPRINT, fingerprint, F_EXPIRES_AT, expiresAt, F_WRITTEN_AT, writtenAt,
    F_REGION, region, F_CLIENT_ID, clientId)
else
  redis.call('HDEL', key, F_GRANT_ID, F_FINGERPRINT, F_EXPIRES_AT, F_WRITTEN_AT, F_REGION, F_CLIENT_ID)
  if revivable ~= '' then redis.call('HSET', key, F_REVIVABLE, revivable) end
end
if not live and #ids == 0 then redis.call('PEXPIRE', key, tombstoneTtl) else redis.call('PERSIST', key) end
redis.call('PUBLISH', channel, version)
return { 0, 0 }`,
  ),
} as const;

interface SealedCommands {
  hgetall(key: string): Promise<Record<string, string | undefined>>;
  samsaraTokenImport(...args: (string | number)[]): Promise<[number, number]>;
}

/** What the sealed records need of a RedisTokenStore. */
export interface RedisSealedSource extends ScanSource {
  client: RedisClientLike;
  tombstoneTtl: number;
  credKey(key: string): string;
  channel(credKey: string): string;
}

const defined = new WeakSet<object>();

function commandsOf(source: RedisSealedSource): SealedCommands {
  if (!defined.has(source.client)) {
    defineScripts(source.client, SEALED_SCRIPTS);
    defined.add(source.client);
  }
  return source.client as unknown as SealedCommands;
}

/** Every credentials key under the prefix (current, retired-only and tombstones), SCANned page by page. */
export async function* sealedKeysOf(source: RedisSealedSource): AsyncGenerator<string> {
  for await (const found of credKeyPages(source)) {
    for (const name of found) yield keyOfCredKey(source.keyPrefix, source.prefix, name);
  }
}

/** The key's hash, read at once (HGETALL is atomic), as a sealed record. */
export async function exportSealedFrom(source: RedisSealedSource, key: string): Promise<SealedGrantRecord | null> {
  const credKey = source.credKey(key);
  const fields = await source.call('export', () => commandsOf(source).hgetall(credKey));
  if (fields[FIELD.version] === undefined) return null;
  const retired = (fields[FIELD.retiredIds] ?? '')
    .split(' ')
    .filter(Boolean)
    .flatMap((id) => {
      const sealed = fields[retiredField(id)];
      return sealed ? [{ grantId: id, sealed, fingerprint: fields[retiredFingerprintField(id)] ?? '' }] : [];
    });
  const sealed = fields[FIELD.sealed];
  const region = fields[FIELD.region];
  const clientID = fields[FIELD.clientID];
  const revivable = fields[FIELD.revivable];
  const current = sealed
    ? {
        grantId: fields[FIELD.grantId] ?? '',
        sealed,
        fingerprint: fields[FIELD.fingerprint] ?? '',
        expiresAt: Number(fields[FIELD.expiresAt] ?? 0),
        writtenAt: Number(fields[FIELD.writtenAt] ?? 0),
        ...(region ? { region } : {}),
        ...(clientID ? { clientID } : {}),
      }
    : null;
  return {
    sealedAs: credKey,
    version: Number(fields[FIELD.version]),
    current,
    ...(revivable ? { revivable: Number(revivable) } : {}),
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
      ...positional(
        SEALED_SCRIPTS.samsaraTokenImport,
        {
          key: credKey,
          version: record.version,
          sealed: c?.sealed ?? '',
          grantId: c?.grantId ?? '',
          fingerprint: c?.fingerprint ?? '',
          expiresAt: c?.expiresAt ?? 0,
          writtenAt: c?.writtenAt ?? 0,
          region: c?.region ?? '',
          clientId: c?.clientID ?? '',
          revivable: record.revivable ?? '',
          tombstoneTtl: source.tombstoneTtl,
          channel: source.channel(credKey),
        },
        record.retired.flatMap((grant) => [grant.grantId, grant.sealed, grant.fingerprint]),
      ),
    ),
  );
  return found === 0 ? { imported: true } : skippedAt(found, record, kept);
}
