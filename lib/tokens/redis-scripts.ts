import type { DurablePipeline } from './redis-durability.js';

// The Lua scripts of RedisTokenStore, and the client calls they become. Each runs atomically in
// Redis, which is what makes a compare-and-set, a retirement or a removal one step for the fleet.

// Every script touches one organization's keys only, all under one hash tag: one Cluster slot.
// The credentials hash: v (version), d (the current grant, sealed), c (its grant id), r (the
// version a dead-grant removal replaced), q (retired grant ids, oldest first, space-separated),
// g:<grant id> (each retired grant, sealed), f and h:<grant id> (the fingerprint of the current
// and of each retired grant's refresh token: what a removal compares, so it removes only the
// tokens it read and revoked), k (the fingerprint of the current credentials as a whole: a write
// made again is recognised), and the current grant's non-secret status in the
// clear, so that listing organizations opens no sealed value: e (expiry, ms), w (written at, ms,
// Redis's clock), rg (region), ci (client id).
const LUA_HELPERS = `
-- A key's versions start at the clock, so they never repeat across its lifetimes (a tombstone
-- that expired, a Redis that lost its data): a late write cannot match a newer grant's version.
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function retire(key, id, sealed, fingerprint, max)
  local field = 'g:' .. id
  local known = redis.call('HEXISTS', key, field) == 1
  redis.call('HSET', key, field, sealed, 'h:' .. id, fingerprint)
  if known then return end
  local ids = {}
  for each in string.gmatch(redis.call('HGET', key, 'q') or '', '%S+') do ids[#ids + 1] = each end
  ids[#ids + 1] = id
  while #ids > max do
    local oldest = table.remove(ids, 1)
    redis.call('HDEL', key, 'g:' .. oldest, 'h:' .. oldest)
  end
  redis.call('HSET', key, 'q', table.concat(ids, ' '))
end
`;

export const SCRIPTS = {
  // ARGV: expected version ('' = a sign-in: unconditional), sealed data, channel, grant id, max
  // retired, expiry (ms), region, client id ('' for none), refresh token fingerprint, the
  // fingerprint of everything written (field k: what tells the same write made again). A
  // tombstone's version counts, so a write after a remove never reuses a version a late writer
  // might still expect. Field r: a late write expecting the version a dead-grant removal
  // replaced may still land, since only a live grant could have produced its refresh token.
  // Written again (the durability check does, and so do unsaved retries), a write is idempotent:
  // the same credentials already current (same k) only touch w (a write, so that WAIT counts it) and answer
  // their version. A sign-in whose grant is already current answers minus its version and
  // writes nothing: a refresh may have rotated that grant since, and the sign-in's tokens are spent.
  samsaraTokenWrite: {
    numberOfKeys: 1,
    lua: `${LUA_HELPERS}
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '') or clock()
local current = redis.call('HGET', KEYS[1], 'd') or ''
if current ~= '' and redis.call('HGET', KEYS[1], 'c') == ARGV[4] then
  if redis.call('HGET', KEYS[1], 'k') == ARGV[10] then
    redis.call('HSET', KEYS[1], 'w', clock())
    if ARGV[1] == '' then return -v end
    return v
  end
  if ARGV[1] == '' then return -v end
end
if ARGV[1] ~= '' then
  local expected = tonumber(ARGV[1])
  local revivable = tonumber(redis.call('HGET', KEYS[1], 'r') or '')
  if not ((current ~= '' and v == expected) or (current == '' and revivable == expected)) then return false end
elseif current ~= '' then
  local c = redis.call('HGET', KEYS[1], 'c') or ''
  if c ~= ARGV[4] then retire(KEYS[1], c, current, redis.call('HGET', KEYS[1], 'f') or '', tonumber(ARGV[5])) end
end
v = v + 1
redis.call('HSET', KEYS[1], 'v', v, 'd', ARGV[2], 'c', ARGV[4], 'f', ARGV[9], 'k', ARGV[10], 'e', ARGV[6], 'w', clock())
redis.call('HSET', KEYS[1], 'rg', ARGV[7], 'ci', ARGV[8])
redis.call('HDEL', KEYS[1], 'r')
redis.call('PERSIST', KEYS[1])
redis.call('PUBLISH', ARGV[3], v)
return v`,
  },
  // ARGV: grant id, sealed data, max retired, only if kept ('1' or '0'), refresh token
  // fingerprint. 1: kept; 0: not written.
  samsaraTokenRetire: {
    numberOfKeys: 1,
    lua: `${LUA_HELPERS}
local current = redis.call('HGET', KEYS[1], 'd') or ''
if current ~= '' and redis.call('HGET', KEYS[1], 'c') == ARGV[1] then return 1 end
if ARGV[4] == '1' and current == '' and (redis.call('HGET', KEYS[1], 'q') or '') == '' then return 0 end
retire(KEYS[1], ARGV[1], ARGV[2], ARGV[5], tonumber(ARGV[3]))
redis.call('PERSIST', KEYS[1])
return 1`,
  },
  // ARGV: tombstone ttl (ms), channel, then pairs of grant id and refresh token fingerprint: a
  // grant is forgotten only while it still holds those very tokens (newer ones are not revoked).
  samsaraTokenForget: {
    numberOfKeys: 1,
    lua: `${LUA_HELPERS}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local forget = {}
for i = 3, #ARGV, 2 do forget[ARGV[i]] = ARGV[i + 1] end
local kept = {}
for id in string.gmatch(redis.call('HGET', KEYS[1], 'q') or '', '%S+') do
  if forget[id] ~= nil and forget[id] == redis.call('HGET', KEYS[1], 'h:' .. id) then
    redis.call('HDEL', KEYS[1], 'g:' .. id, 'h:' .. id)
  else
    kept[#kept + 1] = id
  end
end
redis.call('HSET', KEYS[1], 'q', table.concat(kept, ' '))
local current = redis.call('HGET', KEYS[1], 'd') or ''
local fingerprint = forget[redis.call('HGET', KEYS[1], 'c') or '']
if current ~= '' and fingerprint ~= nil and fingerprint == redis.call('HGET', KEYS[1], 'f') then
  local v = (tonumber(redis.call('HGET', KEYS[1], 'v') or '') or clock()) + 1
  redis.call('HSET', KEYS[1], 'v', v, 'd', '')
  redis.call('PUBLISH', ARGV[2], v)
  current = ''
end
if current == '' then
  -- No current grant left: the tombstone is final, a sign-out is not undone by a late writer.
  redis.call('HDEL', KEYS[1], 'r')
  if #kept == 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
end
return 1`,
  },
  // ARGV: expected version, tombstone ttl (ms), channel. Retired grants keep the key alive.
  samsaraTokenRemove: {
    numberOfKeys: 1,
    lua: `
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '')
if v == nil or v ~= tonumber(ARGV[1]) or (redis.call('HGET', KEYS[1], 'd') or '') == '' then return 0 end
redis.call('HSET', KEYS[1], 'v', v + 1, 'd', '', 'r', v)
if (redis.call('HGET', KEYS[1], 'q') or '') == '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], v + 1)
return 1`,
  },
  // KEYS: lock, credentials. ARGV: the holder's token, ttl (ms). Taken: { v, d } as they stand.
  samsaraTokenLock: {
    numberOfKeys: 2,
    lua: `
if not redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return false end
return { redis.call('HGET', KEYS[2], 'v') or false, redis.call('HGET', KEYS[2], 'd') or false }`,
  },
  // KEYS: lock. ARGV: the holder's token, ttl (ms). 1: held for ttl from now (taken again if it
  // vanished, as in a failover to a replica that never had it); 0: someone else holds it.
  samsaraTokenExtend: {
    numberOfKeys: 1,
    lua: `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`,
  },
  // KEYS: lock. ARGV: the holder's token, channel.
  samsaraTokenUnlock: {
    numberOfKeys: 1,
    lua: `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], 'unlocked')
return 1`,
  },
  // KEYS: credentials. For listing: false for a key without a current grant (a tombstone, only
  // retired grants, or no such key), else { v, c, e, w, rg, ci }, and the sealed grant as a
  // seventh element when e is missing (written before e existed: the store opens it for expiry).
  samsaraTokenStatus: {
    numberOfKeys: 1,
    lua: `
if redis.call('HSTRLEN', KEYS[1], 'd') == 0 then return false end
local f = redis.call('HMGET', KEYS[1], 'v', 'c', 'e', 'w', 'rg', 'ci')
if not f[3] then f[7] = redis.call('HGET', KEYS[1], 'd') end
return f`,
  },
  // KEYS: credentials, lock. Returns { version, lock PTTL (-2: no lock) }.
  samsaraTokenState: {
    numberOfKeys: 2,
    lua: `return { tonumber(redis.call('HGET', KEYS[1], 'v') or '0'), redis.call('PTTL', KEYS[2]) }`,
  },
  // KEYS: the claim. ARGV: the holder's token, ttl (ms). 1: claimed; 0: pending elsewhere; 2: done.
  // Values: 'p:<token>' while pending, 'd:<token>' once completed.
  samsaraClaim: {
    numberOfKeys: 1,
    lua: `
if redis.call('SET', KEYS[1], 'p:' .. ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
if string.sub(redis.call('GET', KEYS[1]) or '', 1, 2) == 'd:' then return 2 end
return 0`,
  },
  // KEYS: the claim. ARGV: the holder's token, ttl (ms) to keep it as done, or '' to release it.
  // Only a claim still pending and still this holder's is settled.
  samsaraClaimSettle: {
    numberOfKeys: 1,
    lua: `
if redis.call('GET', KEYS[1]) ~= 'p:' .. ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], 'd:' .. ARGV[1], 'PX', ARGV[2]) end
return 1`,
  },
  // KEYS: an organization's webhook record (a hash: id in the clear, d sealed). ARGV: the id
  // expected ('' for none), the new id ('' deletes the record), the new record sealed. 1: written.
  samsaraWebhookSave: {
    numberOfKeys: 1,
    lua: `
if (redis.call('HGET', KEYS[1], 'id') or '') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('HSET', KEYS[1], 'id', ARGV[2], 'd', ARGV[3]) end
return 1`,
  },
} as const;

/** The few calls this store makes, its scripts included, typed alike for ioredis 5, 6 and Cluster. */
export interface ScriptedClient {
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  hgetall(key: string): Promise<Record<string, string>>;
  samsaraTokenLock(lockKey: string, credKey: string, token: string, ttlMs: number): Promise<(string | null)[] | null>;
  samsaraTokenWrite(
    credKey: string,
    expected: string,
    sealed: string,
    channel: string,
    grantId: string,
    maxRetired: number,
    expiresAt: number,
    region: string,
    clientID: string,
    fingerprint: string,
    contentFingerprint: string,
  ): Promise<number | null>;
  samsaraTokenRetire(
    credKey: string,
    grantId: string,
    sealed: string,
    maxRetired: number,
    onlyIfKept: string,
    fingerprint: string,
  ): Promise<number>;
  /** `idsAndFingerprints`: grant id, refresh token fingerprint, grant id, ... */
  samsaraTokenForget(credKey: string, ttl: number, channel: string, ...idsAndFingerprints: string[]): Promise<number>;
  samsaraTokenRemove(credKey: string, expected: number, ttl: number, channel: string): Promise<number>;
  samsaraTokenUnlock(lockKey: string, token: string, channel: string): Promise<number>;
  samsaraTokenExtend(lockKey: string, token: string, ttlMs: number): Promise<number>;
  pipeline(): DurablePipeline & {
    samsaraTokenWrite(...args: Parameters<ScriptedClient['samsaraTokenWrite']>): DurablePipeline;
  };
  samsaraTokenState(credKey: string, lockKey: string): Promise<[number, number]>;
  samsaraTokenStatus(credKey: string): Promise<(string | null)[] | null>;
  samsaraClaim(claimKey: string, token: string, ttlMs: number): Promise<number>;
  samsaraClaimSettle(claimKey: string, token: string, ttlMs: string): Promise<number>;
  samsaraWebhookSave(webhookKey: string, expectedId: string, id: string, sealed: string): Promise<number>;
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
}
