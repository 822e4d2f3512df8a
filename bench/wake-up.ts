/**
 * The wake-up: how long after a lock holder's write commits a waiter in another "process" (its
 * own connection) returns from `waitForChange`, on Redis (pub/sub) and on Postgres
 * (LISTEN/NOTIFY), with the poll pushed out of the way (10 s) so only the notification counts.
 * Run: npm run bench -- --only=wake (or node build/bench/wake-up.js).
 */
import Redis from 'ioredis';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import { PostgresTokenStore, RedisTokenStore, generateSealingKey, type TokenStore } from 'passport-samsara';
import { runAlone, summarize, table } from './stats.js';

const ROUNDS = 300;

async function measure(name: string, holder: TokenStore, waiter: TokenStore): Promise<Record<string, string | number>> {
  const key = `wake-${process.pid}`;
  const grant = {
    accessToken: 'a'.repeat(43),
    refreshToken: 'r'.repeat(43),
    expiresAt: Date.now() + 3600_000,
    grantId: 'g',
  };
  let { version } = await holder.replace(key, grant, 3);
  const latencies: number[] = [];
  for (let round = 0; round < ROUNDS + 20; round++) {
    const lock = await holder.lock(key, 10_000);
    let woke = 0;
    const waiting = waiter.waitForChange(key, version, 5_000).then(() => (woke = performance.now()));
    await sleep(2); // the waiter is subscribed and has read the state
    // New tokens each round: the very ones already current would be a retried write, which changes nothing.
    const next = await holder.update(key, { ...grant, accessToken: `${round}`.padEnd(43, 'a') }, version);
    const written = performance.now();
    await waiting;
    await lock?.release();
    version = next!.version;
    if (round >= 20) latencies.push(woke - written);
  }
  return { store: name, rounds: ROUNDS, ...summarize(latencies) };
}

export async function wakeUp(): Promise<string> {
  const keys = generateSealingKey('bench');
  const clients = [new Redis({ host: '127.0.0.1', port: 6379 }), new Redis({ host: '127.0.0.1', port: 6379 })];
  const redisStores = clients.map(
    (client) => new RedisTokenStore({ client, keys, prefix: `bench-wake-${process.pid}:`, pollInterval: 10_000 }),
  );
  const pools = [0, 1].map(() => new Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' }));
  for (const pool of pools) pool.on('error', () => undefined);
  const schema = `bench_wake_${process.pid}`;
  const pgStores = pools.map((pool) => new PostgresTokenStore({ pool, keys, schema, pollInterval: 10_000 }));
  const rows = [
    await measure('redis (pub/sub)', redisStores[0], redisStores[1]),
    await measure('postgres (LISTEN/NOTIFY)', pgStores[0], pgStores[1]),
  ];
  await Promise.all([...redisStores, ...pgStores].map((store) => store.close()));
  await clients[0].del(`bench-wake-${process.pid}:{org:wake-${process.pid}}`);
  for (const client of clients) client.disconnect();
  await pools[0].query(`DROP SCHEMA "${schema}" CASCADE`);
  await Promise.all(pools.map((pool) => pool.end()));
  return `### Wake-up: a waiter in another process, from the holder's update() returning (its commit) to waitForChange returning\n\n${table(rows)}`;
}

if (require.main === module) runAlone(wakeUp);
