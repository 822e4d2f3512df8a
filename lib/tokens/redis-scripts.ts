import type { DurablePipeline } from './redis-durability.js';
import { LUA_FIELDS } from './redis-schema.js';

// The Lua scripts of RedisTokenStore, and the client calls they become. Each runs atomically in
// Redis, which is what makes a compare-and-set, a retirement or a removal one step for the fleet.

// Every script touches one organization's keys only, all under one hash tag: one Cluster slot.
// Keys and fields are redis-schema.ts's: each script starts with its KEYS and ARGV as named
// locals, then the fields as locals (F_VERSION, ...), and its body uses only those names.
const LUA_HELPERS = `
-- A key's versions start at the clock, so they never repeat across its lifetimes (a tombstone
-- that expired, a Redis that lost its data): a late write cannot match a newer grant's version.
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function retire(key, id, sealed, fingerprint, max)
  local field = RETIRED_PREFIX .. id
  local known = redis.call('HEXISTS', key, field) == 1
  redis.call('HSET', key, field, sealed, RETIRED_FINGERPRINT_PREFIX .. id, fingerprint)
  if known then return end
  local ids = {}
  for each in string.gmatch(redis.call('HGET', key, F_RETIRED_IDS) or '', '%S+') do ids[#ids + 1] = each end
  ids[#ids + 1] = id
  while #ids > max do
    local oldest = table.remove(ids, 1)
    redis.call('HDEL', key, RETIRED_PREFIX .. oldest, RETIRED_FINGERPRINT_PREFIX .. oldest)
  end
  redis.call('HSET', key, F_RETIRED_IDS, table.concat(ids, ' '))
end
`;

/** A script and the names of its KEYS and ARGV, in the order its command takes them. */
export interface ScriptSpec<
  K extends readonly string[] = readonly string[],
  A extends readonly string[] = readonly string[],
> {
  readonly keys: K;
  readonly argv: A;
  readonly numberOfKeys: number;
  readonly lua: string;
}

/**
 * A script whose header names its KEYS and ARGV (`local key = KEYS[1]` ...) in the order
 * {@link positional} passes them, and the ARGV after those in the table `rest`; then the fields
 * of the schema as locals, the helpers, and the body, which uses only those names.
 */
export function script<const K extends readonly string[], const A extends readonly string[]>(
  keys: K,
  argv: A,
  body: string,
  helpers = '',
): ScriptSpec<K, A> {
  const header = [
    ...keys.map((name, i) => `local ${name} = KEYS[${i + 1}]`),
    ...argv.map((name, i) => `local ${name} = ARGV[${i + 1}]`),
    `local rest = {}`,
    `for i = ${argv.length + 1}, #ARGV do rest[#rest + 1] = ARGV[i] end`,
  ].join('\n');
  return { keys, argv, numberOfKeys: keys.length, lua: `${header}\n${LUA_FIELDS}\n${helpers}${body.trim()}` };
}

/**
 * Defines each script as a command of `client` under its name (ioredis sends EVALSHA, and the
 * script itself once per connection when Redis does not know it yet).
 */
export function defineScripts(
  client: { defineCommand(name: string, definition: { lua: string; numberOfKeys?: number }): void },
  scripts: Record<string, ScriptSpec>,
): void {
  for (const [name, { numberOfKeys, lua }] of Object.entries(scripts))
    client.defineCommand(name, { numberOfKeys, lua });
}

/** A script's arguments by name. */
export type ScriptArgs<S extends ScriptSpec> = Record<S['keys'][number] | S['argv'][number], string | number>;

/** A script's arguments by name, as the positional array its command takes: the order lives in its spec. */
export function positional<S extends ScriptSpec>(
  spec: S,
  named: ScriptArgs<S>,
  rest: readonly (string | number)[] = [],
): (string | number)[] {
  const byName: Record<string, string | number> = named;
  return [...spec.keys.map((name) => byName[name]), ...spec.argv.map((name) => byName[name]), ...rest];
}

export const SCRIPTS = {
  // expectedVersion '' is a sign-in (unconditional); clientId '' is none. A tombstone's version
  // counts, so a write after a remove never reuses a version a late writer might still expect.
  // The revivable version: a late write expecting the version a dead-grant removal replaced may
  // still land, since only a live grant could have produced its refresh token. Written again (the
  // durability check does, and so do unsaved retries), a write is idempotent: the same
  // credentials already current (same content fingerprint) only touch the written-at field (a
  // write, so that WAIT counts it) and answer their version. A sign-in whose grant is already
  // current answers minus its version and writes nothing: a refresh may have rotated that grant
  // since, and the sign-in's tokens are spent. primary '1': a write that landed answers
  // { version, connected replicas, 1 if the append-only file is on } from the INFO of the primary
  // that took it, for the durability check (redis-durability.ts) without a round trip of its own.
  samsaraTokenWrite: script(
    ['key'],
    [
      'expectedVersion',
      'sealed',
      'channel',
      'grantId',
      'maxRetired',
      'expiresAt',
      'region',
      'clientId',
      'fingerprint',
      'contentFingerprint',
      'primary',
    ],
    `
local function answer(v)
  if primary ~= '1' then return v end
  local replication = redis.call('INFO', 'replication')
  local persistence = redis.call('INFO', 'persistence')
  return { v, tonumber(string.match(replication, '\\nconnected_slaves:(%d+)') or '0'),
    tonumber(string.match(persistence, '\\naof_enabled:(%d)') or '0') }
end
local v = tonumber(redis.call('HGET', key, F_VERSION) or '') or clock()
local current = redis.call('HGET', key, F_SEALED) or ''
if current ~= '' and redis.call('HGET', key, F_GRANT_ID) == grantId then
  if redis.call('HGET', key, F_CONTENT_FINGERPRINT) == contentFingerprint then
    redis.call('HSET', key, F_WRITTEN_AT, clock())
    if expectedVersion == '' then return answer(-v) end
    return answer(v)
  end
  if expectedVersion == '' then return answer(-v) end
end
if expectedVersion ~= '' then
  local expected = tonumber(expectedVersion)
  local revivable = tonumber(redis.call('HGET', key, F_REVIVABLE) or '')
  if not ((current ~= '' and v == expected) or (current == '' and revivable == expected)) then return false end
elseif current ~= '' then
  local c = redis.call('HGET', key, F_GRANT_ID) or ''
  if c ~= grantId then retire(key, c, current, redis.call('HGET', key, F_FINGERPRINT) or '', tonumber(maxRetired)) end
end
v = v + 1
redis.call('HSET', key, F_VERSION, v, F_SEALED, sealed, F_GRANT_ID, grantId, F_FINGERPRINT, fingerprint,
  F_CONTENT_FINGERPRINT, contentFingerprint, F_EXPIRES_AT, expiresAt, F_WRITTEN_AT, clock())
redis.call('HSET', key, F_REGION, region, F_CLIENT_ID, clientId)
redis.call('HDEL', key, F_REVIVABLE)
redis.call('PERSIST', key)
redis.call('PUBLISH', channel, v .. ' ' .. sealed)
return answer(v)`,
    LUA_HELPERS,
  ),
  // onlyIfKept: '1' or '0'. 1: kept; 0: not written.
  samsaraTokenRetire: script(
    ['key'],
    ['grantId', 'sealed', 'maxRetired', 'onlyIfKept', 'fingerprint'],
    `
local current = redis.call('HGET', key, F_SEALED) or ''
if current ~= '' and redis.call('HGET', key, F_GRANT_ID) == grantId then return 1 end
if onlyIfKept == '1' and current == '' and (redis.call('HGET', key, F_RETIRED_IDS) or '') == '' then return 0 end
retire(key, grantId, sealed, fingerprint, tonumber(maxRetired))
redis.call('PERSIST', key)
return 1`,
    LUA_HELPERS,
  ),
  // rest: pairs of grant id and refresh token fingerprint: a grant is forgotten only while it
  // still holds those very tokens (newer ones are not revoked).
  samsaraTokenForget: script(
    ['key'],
    ['tombstoneTtl', 'channel'],
    `
if redis.call('EXISTS', key) == 0 then return 0 end
-- Keyed by grant and fingerprint: one grant may come with several of its tokens (the stored ones
-- and newer ones a process held unsaved), and each pair counts.
local forget = {}
for i = 1, #rest, 2 do forget[rest[i] .. ' ' .. rest[i + 1]] = true end
local kept = {}
for id in string.gmatch(redis.call('HGET', key, F_RETIRED_IDS) or '', '%S+') do
  if forget[id .. ' ' .. (redis.call('HGET', key, RETIRED_FINGERPRINT_PREFIX .. id) or '')] then
    redis.call('HDEL', key, RETIRED_PREFIX .. id, RETIRED_FINGERPRINT_PREFIX .. id)
  else
    kept[#kept + 1] = id
  end
end
redis.call('HSET', key, F_RETIRED_IDS, table.concat(kept, ' '))
local current = redis.call('HGET', key, F_SEALED) or ''
local pair = (redis.call('HGET', key, F_GRANT_ID) or '') .. ' ' .. (redis.call('HGET', key, F_FINGERPRINT) or '')
if current ~= '' and forget[pair] then
  local v = (tonumber(redis.call('HGET', key, F_VERSION) or '') or clock()) + 1
  redis.call('HSET', key, F_VERSION, v, F_SEALED, '')
  redis.call('PUBLISH', channel, v)
  current = ''
end
if current == '' then
  -- No current grant left: the tombstone is final, a sign-out is not undone by a late writer.
  redis.call('HDEL', key, F_REVIVABLE)
  if #kept == 0 then redis.call('PEXPIRE', key, tombstoneTtl) end
end
return 1`,
    LUA_HELPERS,
  ),
  // Retired grants keep the key alive.
  samsaraTokenRemove: script(
    ['key'],
    ['expectedVersion', 'tombstoneTtl', 'channel'],
    `
local v = tonumber(redis.call('HGET', key, F_VERSION) or '')
if v == nil or v ~= tonumber(expectedVersion) or (redis.call('HGET', key, F_SEALED) or '') == '' then return 0 end
redis.call('HSET', key, F_VERSION, v + 1, F_SEALED, '', F_REVIVABLE, v)
if (redis.call('HGET', key, F_RETIRED_IDS) or '') == '' then redis.call('PEXPIRE', key, tombstoneTtl) end
redis.call('PUBLISH', channel, v + 1)
return 1`,
  ),
  // Taken: { version, sealed } as they stand.
  samsaraTokenLock: script(
    ['lockKey', 'key'],
    ['holder', 'ttlMs'],
    `
if not redis.call('SET', lockKey, holder, 'PX', ttlMs, 'NX') then return false end
return { redis.call('HGET', key, F_VERSION) or false, redis.call('HGET', key, F_SEALED) or false }`,
  ),
  // The read of a refresh that found nothing in memory: { version, sealed, lock }. lock 0: the
  // grant is not due by dueBy (its expiry field, ms since the epoch; a record without one, or with
  // 0, as an import of a grant whose expiry was unknown writes, is not due: the caller opens it
  // and locks itself); 1: it was due, and the lock was taken for the caller; 2: it was due, and
  // someone else holds the lock.
  samsaraTokenReadLocking: script(
    ['key', 'lockKey'],
    ['dueBy', 'holder', 'ttlMs'],
    `
local f = redis.call('HMGET', key, F_VERSION, F_SEALED, F_EXPIRES_AT)
local expiresAt = tonumber(f[3] or '')
if not f[2] or f[2] == '' or expiresAt == nil or expiresAt <= 0 or expiresAt > tonumber(dueBy) then
  return { f[1], f[2], 0 }
end
if not redis.call('SET', lockKey, holder, 'PX', ttlMs, 'NX') then return { f[1], f[2], 2 } end
return { f[1], f[2], 1 }`,
  ),
  // 1: held for ttl from now (taken again if it vanished, as in a failover to a replica that
  // never had it); 0: someone else holds it.
  samsaraTokenExtend: script(
    ['lockKey'],
    ['holder', 'ttlMs'],
    `
local current = redis.call('GET', lockKey)
if current and current ~= holder then return 0 end
redis.call('SET', lockKey, holder, 'PX', ttlMs)
return 1`,
  ),
  samsaraTokenUnlock: script(
    ['lockKey'],
    ['holder', 'channel'],
    `
if redis.call('GET', lockKey) ~= holder then return 0 end
redis.call('DEL', lockKey)
redis.call('PUBLISH', channel, 'unlocked')
return 1`,
  ),
  // For listing: false for a key without a current grant (a tombstone, only retired grants, or
  // no such key), else { version, grant id, expiry, written at, region, client id }, and the
  // sealed grant as a seventh element when the expiry is missing (written before it existed:
  // the store opens it for expiry).
  samsaraTokenStatus: script(
    ['key'],
    [],
    `
if redis.call('HSTRLEN', key, F_SEALED) == 0 then return false end
local f = redis.call('HMGET', key, F_VERSION, F_GRANT_ID, F_EXPIRES_AT, F_WRITTEN_AT, F_REGION, F_CLIENT_ID)
if not f[3] then f[7] = redis.call('HGET', key, F_SEALED) end
return f`,
  ),
  // { version, lock PTTL (-2: no lock) }.
  samsaraTokenState: script(
    ['key', 'lockKey'],
    [],
    `return { tonumber(redis.call('HGET', key, F_VERSION) or '0'), redis.call('PTTL', lockKey) }`,
  ),
  // 1: claimed; 0: pending elsewhere; 2: done. Values: 'p:<token>' while pending, 'd:<token>' once completed.
  samsaraClaim: script(
    ['claimKey'],
    ['holder', 'ttlMs'],
    `
if redis.call('SET', claimKey, 'p:' .. holder, 'PX', ttlMs, 'NX') then return 1 end
if string.sub(redis.call('GET', claimKey) or '', 1, 2) == 'd:' then return 2 end
return 0`,
  ),
  // doneTtlMs: how long to keep it as done, or '' to release it. Only a claim still pending and
  // still this holder's is settled.
  samsaraClaimSettle: script(
    ['claimKey'],
    ['holder', 'doneTtlMs'],
    `
if redis.call('GET', claimKey) ~= 'p:' .. holder then return 0 end
if doneTtlMs == '' then redis.call('DEL', claimKey) else redis.call('SET', claimKey, 'd:' .. holder, 'PX', doneTtlMs) end
return 1`,
  ),
  // expectedId: '' for none; id: '' deletes the record. 1: written.
  samsaraWebhookSave: script(
    ['webhookKey'],
    ['expectedId', 'id', 'sealed'],
    `
if (redis.call('HGET', webhookKey, F_WEBHOOK_ID) or '') ~= expectedId then return 0 end
if id == '' then redis.call('DEL', webhookKey) else redis.call('HSET', webhookKey, F_WEBHOOK_ID, id, F_SEALED, sealed) end
return 1`,
  ),
} as const;

type Reply<T> = (...args: (string | number)[]) => Promise<T>;

/**
 * The few calls this store makes, its scripts included, typed alike for ioredis 5, 6 and Cluster.
 * A script's arguments come from {@link positional}: by name, in the order of its spec.
 */
export interface ScriptedClient {
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  hgetall(key: string): Promise<Record<string, string>>;
  samsaraTokenLock: Reply<(string | null)[] | null>;
  samsaraTokenReadLocking: Reply<[string | null, string | null, 0 | 1 | 2]>;
  samsaraTokenWrite: Reply<number | [number, number, number] | null>;
  samsaraTokenRetire: Reply<number>;
  samsaraTokenForget: Reply<number>;
  samsaraTokenRemove: Reply<number>;
  samsaraTokenUnlock: Reply<number>;
  samsaraTokenExtend: Reply<number>;
  pipeline(): DurablePipeline & { samsaraTokenWrite(...args: (string | number)[]): DurablePipeline };
  samsaraTokenState: Reply<[number, number]>;
  samsaraTokenStatus: Reply<(string | null)[] | null>;
  samsaraClaim: Reply<number>;
  samsaraClaimSettle: Reply<number>;
  samsaraWebhookSave: Reply<number>;
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
}
