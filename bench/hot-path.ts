/**
 * The hot path: `accessToken()` for an organization whose token is fresh, on the memory store, on
 * Redis (127.0.0.1:6379) and on Postgres (127.0.0.1:5432, database `test`, a schema of the run's
 * own), on Redis and Postgres both with the credential cache (the default: one store read
 * per second) and without it (`cache: false`: one store read per call), sequential and 100 at a
 * time; and the heap after 200 000 calls, to show nothing accumulates. Run: npm run bench (or node --expose-gc build/bench/hot-path.js).
 */
import Redis from 'ioredis';
import { performance } from 'node:perf_hooks';
import {
  MemoryTokenStore,
  OAuthClient,
  PostgresTokenStore,
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  type TokenStore,
} from 'passport-samsara';
import { summarize, table, runAlone } from './stats.js';
import { benchPool } from './worker.js';

const client = new OAuthClient({ clientID: 'bench', clientSecret: 'bench', baseURL: 'http://127.0.0.1:9' });

async function measure(
  name: string,
  store: TokenStore,
  calls: number,
  concurrency: number,
  cache?: false,
): Promise<Record<string, string | number>> {
  const manager = new TokenManager({ store, client, cache });
  await manager.connect('1001', {
    accessToken: 'a'.repeat(43),
    refreshToken: 'r'.repeat(43),
    expiresAt: Date.now() + 3600_000,
  });
  for (let i = 0; i < 500; i++) await manager.accessToken('1001'); // warm-up
  const latencies: number[] = [];
  const started = performance.now();
  let issued = 0;
  const lane = async (): Promise<void> => {
    while (issued < calls) {
      issued++;
      const t = performance.now();
      await manager.accessToken('1001');
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const seconds = (performance.now() - started) / 1000;
  return {
    store: name,
    cache: store.watch ? (cache === false ? 'off' : 'on') : 'none (no watch)',
    concurrency,
    calls,
    'calls/s': Math.round(calls / seconds),
    ...summarize(latencies),
  };
}

async function heapAfter(calls: number): Promise<string> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return 'run with --expose-gc';
  const store = new MemoryTokenStore();
  const manager = new TokenManager({ store, client });
  await manager.connect('1001', {
    accessToken: 'a'.repeat(43),
    refreshToken: 'r'.repeat(43),
    expiresAt: Date.now() + 3600_000,
  });
  for (let i = 0; i < 10_000; i++) await manager.accessToken('1001');
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < calls; i++) await manager.accessToken('1001');
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  return `${(grown / 1024).toFixed(1)} KiB heap growth after ${calls} calls (${(grown / calls).toFixed(2)} bytes/call)`;
}

export async function hotPath(): Promise<string> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await redis.connect();
  const redisStore = new RedisTokenStore({
    client: redis,
    keys: generateSealingKey('bench'),
    prefix: `bench-${process.pid}:`,
  });
  const pool = benchPool();
  const schema = `bench_${process.pid}`;
  const postgresStore = new PostgresTokenStore({ pool, keys: generateSealingKey('bench'), schema });
  const rows = [
    await measure('memory', new MemoryTokenStore(), 200_000, 1),
    await measure('memory', new MemoryTokenStore(), 200_000, 100),
    await measure('redis', redisStore, 20_000, 1, false),
    await measure('redis', redisStore, 50_000, 100, false),
    await measure('redis', redisStore, 200_000, 1),
    await measure('redis', redisStore, 200_000, 100),
    await measure('postgres', postgresStore, 20_000, 1, false),
    await measure('postgres', postgresStore, 50_000, 100, false),
    await measure('postgres', postgresStore, 200_000, 1),
    await measure('postgres', postgresStore, 200_000, 100),
  ];
  await postgresStore.close();
  await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
  await pool.end();
  await redis.del(`bench-${process.pid}:{org:1001}`);
  await redisStore.close();
  redis.disconnect();
  return `### Hot path: accessToken() with a fresh token\n\n${table(rows)}\n\n${await heapAfter(200_000)}`;
}

if (require.main === module) runAlone(hotPath);
