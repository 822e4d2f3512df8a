/**
 * The fleet the stampede, the storm and the contenders measure: an emulator, a RedisTokenStore on
 * Redis at 127.0.0.1:6379 under a prefix of its own (or, with `store: 'postgres'`, a
 * PostgresTokenStore on 127.0.0.1:5432, database `test`, under a schema of its own, dropped at
 * the end), and worker processes sharing it, all for the organization 1001.
 */
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { PostgresTokenStore, RedisTokenStore, TokenManager, generateSealingKey } from 'passport-samsara';
import { startSamsaraEmulator, type EmulatorOptions, type SamsaraEmulator } from 'passport-samsara/testing';
import { benchPool, startWorker, type Worker, type WorkerConfig } from './worker.js';

export interface Fleet {
  emulator: SamsaraEmulator;
  store: RedisTokenStore | PostgresTokenStore;
  workers: Worker[];
  /** Signs 1001 in afresh, its access token expiring `expiresInMs` from now (negative: expired). */
  seed(expiresInMs: number): Promise<void>;
  /** Every process serves a fresh token, then refreshes one alone: warm connections, warm JIT. */
  warmUp(perWorker: number): Promise<void>;
  /** Stops the workers, removes the fleet's keys, closes everything. */
  stop(): Promise<void>;
}

/** Signs 1001 in through `manager` with a new grant of the emulator's, expiring `expiresInMs` from now. */
export async function seedGrant(emulator: SamsaraEmulator, manager: TokenManager, expiresInMs: number): Promise<void> {
  const grant = emulator.issueGrant('1001');
  await manager.connect('1001', {
    accessToken: grant.accessToken,
    refreshToken: grant.refreshToken,
    expiresAt: Date.now() + expiresInMs,
  });
}

export async function startFleet(options: {
  workers: number;
  emulator: EmulatorOptions;
  worker?: Partial<Pick<WorkerConfig, 'unlocked' | 'mode'>>;
  /** Where the grant lives: Redis (default) or Postgres. */
  store?: 'redis' | 'postgres';
}): Promise<Fleet> {
  const emulator = await startSamsaraEmulator(options.emulator);
  const keys = generateSealingKey('bench');
  const id = randomUUID().slice(0, 8);
  const prefix = `bench-${id}:`;
  const postgres = options.store === 'postgres' ? `bench_${id}` : undefined;
  let redis: Redis | undefined;
  let pool: Pool | undefined;
  let store: RedisTokenStore | PostgresTokenStore;
  if (postgres === undefined) {
    redis = new Redis({ host: '127.0.0.1', port: 6379 });
    store = new RedisTokenStore({ client: redis, keys, prefix });
  } else {
    pool = benchPool();
    store = new PostgresTokenStore({ pool, keys, schema: postgres });
    // Migrated once here; the workers' own migrations at their start then find it done.
    await store.migrate();
  }
  const client = { clientID: emulator.clientID, clientSecret: emulator.clientSecret, baseURL: emulator.baseURL };
  const seeder = new TokenManager({ store, client });
  const workers = await Promise.all(
    Array.from({ length: options.workers }, () =>
      startWorker({ prefix, postgres, keys, emulator: client, unlocked: false, ...options.worker }),
    ),
  );
  const seed = (expiresInMs: number): Promise<void> => seedGrant(emulator, seeder, expiresInMs);
  return {
    emulator,
    store,
    workers,
    seed,
    async warmUp(perWorker) {
      await seed(3600_000);
      await Promise.all(workers.map((w) => w.burst('1001', perWorker)));
      for (const worker of workers) {
        await seed(-1_000);
        await worker.burst('1001', 1);
      }
    },
    async stop() {
      await Promise.all(workers.map((w) => w.stop()));
      await redis?.del(`${prefix}{org:1001}`, `${prefix}{org:1001}:lock`);
      await store.close();
      redis?.disconnect();
      if (pool) {
        await pool.query(`DROP SCHEMA "${String(postgres)}" CASCADE`);
        await pool.end();
      }
      await emulator.stop();
    },
  };
}
