/**
 * What waiting for durability adds: a refresh's store write (`update`, the compare-and-set that
 * carries the rotated tokens) and a whole refresh (`accessToken` on an expired token, the
 * emulator answering at once), on a standalone Redis and on a primary with one replica, with
 * `durability` at its default (`replicas: 'auto'`) and off (`replicas: 0`). Redis servers of its
 * own on free loopback ports. `node build/bench/durability.js`
 */
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import {
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  type NewCredentials,
  type RedisDurabilityOptions,
} from 'passport-samsara';
import { startSamsaraEmulator } from 'passport-samsara/testing';
import { cli, startRedis, until } from '../test/support/redis.js';
import { runAlone, summarize, table } from './stats.js';

/** Writes and refreshes measured per row, after as many unmeasured. */
export const DURABILITY = { writes: 2000, refreshes: 300 };

const keys = generateSealingKey('kbench');

async function measure(
  port: number,
  durability: RedisDurabilityOptions | undefined,
): Promise<{ write: ReturnType<typeof summarize>; refresh: ReturnType<typeof summarize> }> {
  const client = new Redis({ host: '127.0.0.1', port });
  const store = new RedisTokenStore({
    client,
    keys,
    prefix: `bench${String(Math.random()).slice(2)}:`,
    ...(durability && { durability }),
  });
  const emulator = await startSamsaraEmulator();
  try {
    const grant: NewCredentials = { accessToken: 'a', refreshToken: 'r', expiresAt: 1_900_000_000_000, grantId: 'g' };
    let version = (await store.replace('w', grant, 0)).version;
    const writes: number[] = [];
    for (let i = 0; i < 2 * DURABILITY.writes; i++) {
      const started = performance.now();
      version = (await store.update('w', { ...grant, refreshToken: `r${String(i)}` }, version))!.version;
      if (i >= DURABILITY.writes) writes.push(performance.now() - started);
    }
    const manager = new TokenManager({
      store,
      client: { clientID: emulator.clientID, clientSecret: emulator.clientSecret, baseURL: emulator.baseURL },
    });
    const refreshes: number[] = [];
    for (let i = 0; i < 2 * DURABILITY.refreshes; i++) {
      const issued = emulator.issueGrant('1001');
      await manager.connect('1001', { ...issued, expiresAt: Date.now() - 1_000 });
      const started = performance.now();
      await manager.accessToken('1001');
      if (i >= DURABILITY.refreshes) refreshes.push(performance.now() - started);
    }
    await manager.idle();
    return { write: summarize(writes), refresh: summarize(refreshes) };
  } finally {
    await store.close();
    client.disconnect();
    await emulator.stop();
  }
}

export async function durability(): Promise<string> {
  const [primary, replica] = await Promise.all([startRedis(), startRedis()]);
  const rows: Record<string, string | number>[] = [];
  try {
    const standalone = await startRedis();
    for (const [name, options] of [
      ['auto (default)', undefined],
      ['off (replicas: 0)', { replicas: 0 }],
    ] as const) {
      const { write, refresh } = await measure(standalone.port, options);
      rows.push({
        redis: 'standalone',
        durability: name,
        'write p50': write.p50,
        'write p99': write.p99,
        'refresh p50': refresh.p50,
        'refresh p99': refresh.p99,
      });
    }
    await standalone.stop();
    await cli(replica.port, 'replicaof', '127.0.0.1', String(primary.port));
    await until('the replica to sync', async () =>
      (await cli(replica.port, 'info', 'replication')).includes('master_link_status:up'),
    );
    for (const [name, options] of [
      ['auto (default): WAIT 1', undefined],
      ['off (replicas: 0)', { replicas: 0 }],
    ] as const) {
      const { write, refresh } = await measure(primary.port, options);
      rows.push({
        redis: 'primary + 1 replica',
        durability: name,
        'write p50': write.p50,
        'write p99': write.p99,
        'refresh p50': refresh.p50,
        'refresh p99': refresh.p99,
      });
    }
  } finally {
    await Promise.all([primary.stop(), replica.stop()]);
  }
  return [
    `### What waiting for durability adds (${String(DURABILITY.writes)} store writes, ${String(DURABILITY.refreshes)} refreshes per row, loopback, \`node build/bench/durability.js\`)`,
    '',
    table(rows),
  ].join('\n');
}

if (require.main === module) runAlone(durability);
