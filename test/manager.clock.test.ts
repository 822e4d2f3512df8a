import { expect } from 'chai';
import Redis from 'ioredis';
import {
  PostgresTokenStore,
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  type Clock,
  type TokenStore,
} from 'passport-samsara';
import { RefreshUnavailableError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import type { Pool } from 'pg';
import { systemClock } from '../lib/tokens/clock.js';
import { clientOf } from './support/grants.js';
import { dropSchema, pool, testSchema } from './support/postgres.js';
import { startRedis, type RedisServer } from './support/redis.js';

/** An hour ahead of real time, at real speed: the manager's deadlines mean nothing to a server's clock. */
const ahead: Clock = { now: () => Date.now() + 3_600_000, sleep: systemClock.sleep };

const WAIT_TIMEOUT = 500;

/** Two handles on one backend: the manager's store, and the holder's (another process). */
interface Backend {
  name: string;
  open(redis: RedisServer): Promise<{ store: TokenStore; holder: TokenStore; close(): Promise<void> }>;
}

const keys = generateSealingKey('clock');

const backends: Backend[] = [
  {
    name: 'RedisTokenStore',
    async open(redis) {
      const clients = [0, 1].map(() => new Redis({ host: redis.host, port: redis.port }));
      const [store, holder] = clients.map((client) => new RedisTokenStore({ client, keys }));
      return {
        store: store,
        holder: holder,
        async close() {
          await Promise.all([store.close(), holder.close()]);
          for (const client of clients) client.disconnect();
        },
      };
    },
  },
  {
    name: 'PostgresTokenStore',
    async open() {
      const schema = testSchema('clock');
      const pools: Pool[] = [pool(), pool()];
      const [store, holder] = pools.map((db) => new PostgresTokenStore({ pool: db, keys, schema }));
      return {
        store: store,
        holder: holder,
        async close() {
          await Promise.all([store.close(), holder.close()]);
          await Promise.all(pools.map((db) => db.end()));
          await dropSchema(schema);
        },
      };
    },
  },
];

describe("a manager whose clock is far from the server's: its waits on a shared store still end on time", function () {
  this.timeout(30_000);
  let emulator: SamsaraEmulator;
  let redis: RedisServer;

  before(async () => {
    [emulator, redis] = await Promise.all([startSamsaraEmulator(), startRedis()]);
  });
  after(async () => {
    await Promise.all([emulator?.stop(), redis?.stop()]);
  });

  for (const backend of backends) {
    it(`${backend.name}: a caller waiting out another process's refresh gives up after waitTimeout, not at the lock's expiry`, async () => {
      const { store, holder, close } = await backend.open(redis);
      const tokens = new TokenManager({ store, clock: ahead, client: clientOf(emulator), waitTimeout: WAIT_TIMEOUT });
      try {
        await tokens.connect('1001', { ...emulator.issueGrant('1001'), expiresAt: ahead.now() - 1_000 });
        // Another process is refreshing, for 10 s: the caller waits for it, up to WAIT_TIMEOUT.
        const lock = await holder.lock('1001', 10_000);
        expect(lock, 'the holder took the lock').to.not.equal(null);
        const started = performance.now();
        const outcome = await tokens.accessToken('1001').catch((err: unknown) => err);
        const elapsed = performance.now() - started;
        expect(outcome).to.be.instanceOf(RefreshUnavailableError);
        // Before, the stores compared the manager's deadline (an hour ahead) with Date.now(): the
        // wait ran to the lock's expiry, 10 s.
        expect(elapsed).to.be.within(WAIT_TIMEOUT - 50, WAIT_TIMEOUT + 2_000);
        await lock!.release();
      } finally {
        await tokens.idle();
        tokens.close();
        await close();
      }
    });
  }
});
