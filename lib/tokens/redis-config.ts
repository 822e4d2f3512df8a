import { ConfigurationError } from '../errors/index.js';
import type { RedisClientLike } from './redis-client.js';

/** A connection that can read its server's configuration: the client, or one Cluster master. */
interface ConfigClient {
  config(subcommand: 'GET', parameter: string): Promise<unknown>;
  options?: { host?: string; port?: number };
}

/**
 * The stable codes of the warnings {@link checkRedisConfig} emits, for `process.on('warning')`
 * or `node --disable-warning=CODE`.
 */
export const REDIS_WARNINGS = Object.freeze({
  /** Neither AOF nor RDB: a restart loses every token. */
  notPersistent: 'SAMSARA_REDIS_NOT_PERSISTENT',
  /** RDB snapshots only: a restart loses every refresh since the last snapshot. */
  snapshotsOnly: 'SAMSARA_REDIS_SNAPSHOTS_ONLY',
  /** `maxmemory-policy allkeys-*`: Redis may evict credentials. */
  evicts: 'SAMSARA_REDIS_EVICTS',
  /** `CONFIG GET` refused (a managed Redis): nothing could be checked. */
  unchecked: 'SAMSARA_REDIS_CONFIG_UNCHECKED',
});

/**
 * The client's ioredis `keyPrefix` (empty without one). ioredis adds it to every key a command
 * names, but not to a SCAN pattern, nor to pub/sub channels, nor to the keys SCAN returns: the
 * store adds it there itself. Refused when it holds `{` or `}`: a hash tag in it would put every
 * organization, and every epoch marker of a Cluster, on one slot.
 */
export function keyPrefixOf(client: RedisClientLike): string {
  const keyPrefix = client.options?.keyPrefix ?? '';
  if (typeof keyPrefix !== 'string' || /[{}]/.test(keyPrefix)) {
    throw new ConfigurationError(
      "RedisTokenStore: the ioredis client's keyPrefix must be a string without { or }: the store adds its own hash tag so that an organization's keys share one Cluster slot.",
    );
  }
  return keyPrefix;
}

const WHY =
  'Samsara rotates refresh tokens: a lost write is a grant live at Samsara that nobody holds, and the organization must sign in again.';

/**
 * Reads `appendonly`, `save` and `maxmemory-policy` from every server that holds tokens (each
 * master of a Cluster) and emits one process warning per finding: tokens that would not survive a
 * restart, or that Redis may evict. A server that refuses `CONFIG` (managed Redis services often
 * do) gets one warning saying what could not be checked. Failures to reach Redis say nothing: the
 * store's own operations report those.
 */
export async function checkRedisConfig(
  client: RedisClientLike,
  call: <T>(what: string, command: () => Promise<T>) => Promise<T>,
  warn: (message: string, code: string) => void,
): Promise<void> {
  const servers = (client.isCluster && client.nodes ? client.nodes('master') : [client]) as unknown as ConfigClient[];
  for (const server of servers) {
    const where = `Redis at ${server.options?.host ?? '?'}:${server.options?.port ?? '?'}`;
    let settings: string[];
    try {
      settings = await Promise.all(
        ['appendonly', 'save', 'maxmemory-policy'].map((name) =>
          call('config check', async () => valueOf(await server.config('GET', name))),
        ),
      );
    } catch (err) {
      if (!isReplyError(err)) return;
      warn(
        `${where} refused CONFIG GET, so passport-samsara could not check that tokens survive a restart and are never evicted. Make sure it persists every write (appendonly yes) and uses maxmemory-policy noeviction or volatile-*. ${WHY}`,
        REDIS_WARNINGS.unchecked,
      );
      continue;
    }
    const [appendonly, save, policy] = settings;
    if (appendonly !== 'yes' && save === '') {
      warn(
        `${where} keeps nothing on disk (appendonly no, save ""): a restart loses every organization's tokens. Set appendonly yes. ${WHY}`,
        REDIS_WARNINGS.notPersistent,
      );
    } else if (appendonly !== 'yes') {
      warn(
        `${where} only takes snapshots (save "${save}", appendonly no): a restart loses every refresh since the last one. Set appendonly yes. ${WHY}`,
        REDIS_WARNINGS.snapshotsOnly,
      );
    }
    if (policy.startsWith('allkeys-')) {
      warn(
        `${where} has maxmemory-policy ${policy}, which may evict an organization's credentials. Use noeviction (or volatile-*: only tombstones carry a TTL). ${WHY}`,
        REDIS_WARNINGS.evicts,
      );
    }
  }
}

/** CONFIG GET answers `[name, value]` (ioredis), or on RESP3 a map. */
function valueOf(reply: unknown): string {
  if (Array.isArray(reply)) return String(reply[1] ?? '');
  if (reply && typeof reply === 'object') return String(Object.values(reply)[0] ?? '');
  return '';
}

/** An error Redis answered (`ERR unknown command`, `NOPERM`), not a failure to reach it. */
function isReplyError(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e.name === 'ReplyError') return true;
  }
  return false;
}
