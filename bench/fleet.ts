/**
 * The fleet the stampede, the storm and the contenders measure: an emulator, a RedisTokenStore on
 * Redis at 127.0.0.1:6379 under a prefix of its own, and worker processes sharing it, all for the
 * organization 1001.
 */
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { RedisTokenStore, TokenManager, generateSealingKey } from 'passport-samsara';
import { startSamsaraEmulator, type EmulatorOptions, type SamsaraEmulator } from 'passport-samsara/testing';
import { startWorker, type Worker, type WorkerConfig } from './worker.js';

export interface Fleet {
  emulator: SamsaraEmulator;
  store: RedisTokenStore;
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
}): Promise<Fleet> {
  const emulator = await startSamsaraEmulator(options.emulator);
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const keys = generateSealingKey('bench');
  const prefix = `bench-${randomUUID().slice(0, 8)}:`;
  const store = new RedisTokenStore({ client: redis, keys, prefix });
  const client = { clientID: emulator.clientID, clientSecret: emulator.clientSecret, baseURL: emulator.baseURL };
  const seeder = new TokenManager({ store, client });
  const workers = await Promise.all(
    Array.from({ length: options.workers }, () =>
      startWorker({ prefix, keys, emulator: client, unlocked: false, ...options.worker }),
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
      await redis.del(`${prefix}{org:1001}`, `${prefix}{org:1001}:lock`);
      await store.close();
      redis.disconnect();
      await emulator.stop();
    },
  };
}
