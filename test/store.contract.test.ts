import { MemoryTokenStore, PostgresTokenStore, RedisTokenStore, generateSealingKey } from 'passport-samsara';
import { realTime, runTokenStoreContract, type ContractBackend, type ContractTime } from 'passport-samsara/store';
import { fakeClock } from './support/clock.js';
import { dropSchema, pool, startPgBouncer, testSchema } from './support/postgres.js';
import { connect, startRedis, startRedisCluster, type RedisFlavor } from './support/redis.js';

// The TokenStore contract (passport-samsara/store) on every store this package ships: memory on a
// fake clock, Redis on ioredis 5 and 6 and a Cluster, Postgres direct and through PgBouncer.

/** MemoryTokenStore runs on a fake clock, so its waits are checked to the millisecond and cost nothing. */
function fakeTime(): { clock: ReturnType<typeof fakeClock>; time: ContractTime } {
  const clock = fakeClock();
  return {
    clock,
    time: {
      now: clock.now,
      pass: clock.tick,
      outlive: clock.tick,
      watch(wait) {
        const started = clock.now();
        let ended: number | undefined;
        let failed: { error: unknown } | undefined;
        void wait.then(
          () => (ended = clock.now()),
          (error: unknown) => (failed = { error }),
        );
        return {
          // Everything the memory store does happens in promises: by the time the test looks,
          // a wait that was due has ended.
          async elapsed() {
            await new Promise(setImmediate);
            if (failed) throw failed.error;
            if (ended === undefined) throw new Error(`still waiting after ${clock.now() - started} ms of fake time`);
            return ended - started;
          },
        };
      },
      early: 0,
      late: 0,
    },
  };
}

async function redisBackend(flavor: RedisFlavor): Promise<ContractBackend> {
  const target = flavor === 'ioredis 5 Cluster' ? await startRedisCluster() : await startRedis();
  const clients = [connect(flavor, target), connect(flavor, target)];
  const keys = generateSealingKey('ktest');
  // A long poll interval proves that waiters wake by pub/sub and the lock's expiry, not by polling.
  const stores = clients.map((client) => new RedisTokenStore({ client, keys, pollInterval: 10_000 }));
  return {
    stores: [stores[0], stores[1]],
    time: realTime,
    teardown: async () => {
      await Promise.all(stores.map((store) => store.close()));
      clients.forEach((client) => client.disconnect());
      await target.stop();
    },
  };
}

/** Two pools on Postgres, or on a PgBouncer of the test's own in transaction mode (LISTEN goes direct). */
async function postgresBackend(through: 'direct' | 'PgBouncer'): Promise<ContractBackend> {
  const schema = testSchema('contract');
  const bouncer = through === 'PgBouncer' ? await startPgBouncer() : undefined;
  const pools = [pool(bouncer?.config), pool(bouncer?.config)];
  const listenPools = bouncer ? [pool({ max: 1 }), pool({ max: 1 })] : pools;
  const keys = generateSealingKey('ktest');
  // Two pools, as two processes hold; the long poll interval proves that waiters wake by NOTIFY.
  const stores = pools.map(
    (each, i) =>
      new PostgresTokenStore({
        pool: each,
        listenPool: listenPools[i],
        keys,
        schema,
        pollInterval: 10_000,
        // 600 writes at once wait for a connection of 10: the time in the queue counts.
        timeout: 10_000,
      }),
  );
  return {
    stores: [stores[0], stores[1]],
    time: realTime,
    teardown: async () => {
      await Promise.all(stores.map((store) => store.close()));
      await Promise.all([...new Set([...pools, ...listenPools])].map((each) => each.end()));
      await bouncer?.stop();
      await dropSchema(schema);
    },
  };
}

const backends: [string, () => Promise<ContractBackend>][] = [
  [
    'MemoryTokenStore',
    async () => {
      const { clock, time } = fakeTime();
      const store = new MemoryTokenStore({ clock });
      return { stores: [store, store], time, teardown: async () => {} };
    },
  ],
  ['RedisTokenStore on ioredis 5', () => redisBackend('ioredis 5')],
  ['RedisTokenStore on ioredis 6', () => redisBackend('ioredis 6')],
  ['RedisTokenStore on a 3-node Cluster', () => redisBackend('ioredis 5 Cluster')],
  ['PostgresTokenStore', () => postgresBackend('direct')],
  ['PostgresTokenStore through PgBouncer in transaction mode', () => postgresBackend('PgBouncer')],
];

for (const [name, start] of backends) {
  // The Redis and Postgres stores have the optional locking read; the memory store has no round trip to save.
  runTokenStoreContract(name, start, { describe, it, before, after }, { lockingRead: name !== 'MemoryTokenStore' });
}
