import { expect } from 'chai';
import sinon from 'sinon';
import type { Cluster, Redis } from 'ioredis';
import type { Pool } from 'pg';
import {
  PostgresTokenStore,
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  type NewCredentials,
} from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf, countReads, seedGrant } from './support/grants.js';
import { dropSchema, pool, testSchema } from './support/postgres.js';
import { connect, startRedis, startRedisCluster, type RedisFlavor } from './support/redis.js';

const keys = generateSealingKey('read-locking');
const SKEW = 60_000;

type Store = RedisTokenStore | PostgresTokenStore;

/** Stores of one backend, each pair two processes' views of the same data. */
interface Backend {
  /** Two stores over the same data, apart from every other pair's. */
  pair(): Promise<[Store, Store]>;
  /** Sets the stored expiry of `key` (the plaintext column or field) behind the store's back. */
  setStoredExpiry(store: Store, key: string, expiresAt: number): Promise<void>;
  stop(): Promise<void>;
}

async function redisBackend(flavor: RedisFlavor): Promise<Backend> {
  const target = flavor === 'ioredis 5 Cluster' ? await startRedisCluster() : await startRedis();
  const clients: (Redis | Cluster)[] = [];
  const stores: Store[] = [];
  const byStore = new Map<Store, { client: Redis | Cluster; prefix: string }>();
  let n = 0;
  return {
    async pair() {
      const prefix = `rl${String(++n)}:`;
      const made = [0, 1].map(() => {
        const client = connect(flavor, target);
        clients.push(client);
        const store = new RedisTokenStore({ client, keys, prefix });
        stores.push(store);
        byStore.set(store, { client, prefix });
        return store;
      });
      return [made[0], made[1]];
    },
    async setStoredExpiry(store, key, expiresAt) {
      const { client, prefix } = byStore.get(store) ?? { client: clients[0], prefix: '' };
      await client.hset(`${prefix}{org:${key}}`, 'e', String(expiresAt));
    },
    async stop() {
      await Promise.all(stores.map((s) => s.close()));
      for (const c of clients) c.disconnect();
      await target.stop();
    },
  };
}

async function postgresBackend(): Promise<Backend> {
  const pools: Pool[] = [];
  const stores: Store[] = [];
  const schemas: string[] = [];
  return {
    async pair() {
      const schema = testSchema('readlock');
      schemas.push(schema);
      const made = [0, 1].map(() => {
        const db = pool();
        pools.push(db);
        const store = new PostgresTokenStore({ pool: db, keys, schema });
        stores.push(store);
        return store;
      });
      await made[0].migrate();
      return [made[0], made[1]];
    },
    async setStoredExpiry(store, key, expiresAt) {
      const i = stores.indexOf(store);
      await pools[i].query(`UPDATE "${schemas[Math.floor(i / 2)]}".grants SET expires_at = $2 WHERE key = $1`, [
        key,
        expiresAt,
      ]);
    },
    async stop() {
      await Promise.all(stores.map((s) => s.close()));
      await Promise.all(pools.map((p) => p.end()));
      await Promise.all(schemas.map((schema) => dropSchema(schema)));
    },
  };
}

const backends: [string, () => Promise<Backend>][] = [
  ['RedisTokenStore', () => redisBackend('ioredis 5')],
  ['RedisTokenStore on a Cluster', () => redisBackend('ioredis 5 Cluster')],
  ['PostgresTokenStore', postgresBackend],
];

for (const [name, start] of backends) {
  describe(`${name}.getLockingIfDue: the read that takes the refresh lock with it`, function () {
    this.timeout(20_000);
    let backend: Backend;
    let emulator: SamsaraEmulator;
    let n = 0;

    before(async () => {
      backend = await start();
      emulator = await startSamsaraEmulator();
    });
    after(async () => {
      await backend.stop();
      await emulator.stop();
    });

    const grantExpiring = (inMs: number): NewCredentials => ({
      accessToken: `A${String(++n)}`,
      refreshToken: `R${String(n)}`,
      expiresAt: Date.now() + inMs,
      grantId: `g${String(n)}`,
    });

    it('reads without locking while the grant is not due, and locks in the same step once it is', async () => {
      const [a, b] = await backend.pair();
      const stored = await a.replace('1001', grantExpiring(3600_000), 10);
      const early = await a.getLockingIfDue('1001', Date.now() + SKEW, 5_000);
      expect(early.credentials).to.deep.equal(stored);
      expect(early.lock, 'not asked for').to.equal(undefined);
      const free = await b.lock('1001', 5_000);
      expect(free, 'the lock is free').to.not.equal(null);
      await free?.release();

      // Due by the caller's clock: expiring at or before dueBy.
      const due = await a.getLockingIfDue('1001', stored.expiresAt, 5_000);
      expect(due.credentials).to.deep.equal(stored);
      expect(due.lock?.current, 'the handle carries what was read').to.deep.equal(stored);
      expect(await b.lock('1001', 5_000), 'held for the reader').to.equal(null);
      const meanwhile = await b.getLockingIfDue('1001', stored.expiresAt, 5_000);
      expect(meanwhile.lock, "due, and someone else's").to.equal(null);
      expect(meanwhile.credentials).to.deep.equal(stored);

      expect(await due.lock?.extend?.(5_000)).to.equal(true);
      await due.lock?.release();
      const after = await b.lock('1001', 5_000);
      expect(after, 'released').to.not.equal(null);
      await after?.release();
    });

    it('takes no lock where there is nothing to refresh: no key, or a tombstone', async () => {
      const [a, b] = await backend.pair();
      expect(await a.getLockingIfDue('1001', Date.now() + SKEW, 5_000)).to.deep.equal({ credentials: null });
      const stored = await a.replace('1001', grantExpiring(-1_000), 10);
      expect(await a.remove('1001', stored.version)).to.equal(true);
      expect(await a.getLockingIfDue('1001', Date.now() + SKEW, 5_000)).to.deep.equal({ credentials: null });
      const free = await b.lock('1001', 5_000);
      expect(free).to.not.equal(null);
      await free?.release();
    });

    it('a manager refreshes an expired grant with one store call before the token request, and never calls lock()', async () => {
      const [store] = await backend.pair();
      const seeded = await seedGrant(emulator, store, '1001', -1_000);
      const reads = countReads(store);
      const locks = sinon.spy(store, 'lock');
      // A cache of its own, on either store: a read that misses it may lock.
      const manager = new TokenManager({ store, client: clientOf(emulator), cache: { maxAge: 1_000 } });
      const tokens = await Promise.all(Array.from({ length: 20 }, () => manager.accessToken('1001')));
      await manager.idle();
      expect(new Set(tokens).size).to.equal(1);
      expect(tokens[0]).to.not.equal(seeded.accessToken);
      expect(reads.callCount, 'the one locking read').to.equal(1);
      expect(locks.callCount).to.equal(0);
      expect((await store.get('1001'))?.accessToken).to.equal(tokens[0]);
      const after = await store.lock('1001', 1_000);
      expect(after, 'the lock was released after the write').to.not.equal(null);
      await after?.release();
      manager.close();
    });

    it('two processes, one expired grant: one token request; the other waits for the write and adopts it', async () => {
      const [a, b] = await backend.pair();
      await seedGrant(emulator, a, '1001', -1_000);
      const before = emulator.counters.grants.refresh_token;
      const invalid = emulator.counters.invalidGrant;
      const managers = [a, b].map(
        (store) => new TokenManager({ store, client: clientOf(emulator), cache: { maxAge: 1_000 } }),
      );
      const tokens = await Promise.all(
        managers.flatMap((m) => Array.from({ length: 10 }, () => m.accessToken('1001'))),
      );
      await Promise.all(managers.map((m) => m.idle()));
      expect(new Set(tokens).size).to.equal(1);
      expect(emulator.counters.grants.refresh_token - before).to.equal(1);
      expect(emulator.counters.invalidGrant - invalid).to.equal(0);
      managers.forEach((m) => m.close());
    });

    it('lets the lock go when the stored expiry disagrees with the sealed grant and there is nothing to refresh', async () => {
      const [store] = await backend.pair();
      const seeded = await seedGrant(emulator, store, '1001', 3600_000);
      // The stored expiry says due; the sealed grant (what the manager trusts) is fresh.
      await backend.setStoredExpiry(store, '1001', 0);
      const manager = new TokenManager({ store, client: clientOf(emulator), cache: { maxAge: 1_000 } });
      const before = emulator.counters.grants.refresh_token;
      expect(await manager.accessToken('1001')).to.equal(seeded.accessToken);
      await manager.idle();
      expect(emulator.counters.grants.refresh_token).to.equal(before);
      const free = await store.lock('1001', 1_000);
      expect(free, 'the read took the lock and gave it back').to.not.equal(null);
      await free?.release();
      manager.close();
    });

    it('without the cache (every call reads), a manager reads plainly: no locking read per call', async () => {
      const [store] = await backend.pair();
      await seedGrant(emulator, store, '1001', -1_000);
      const locking = sinon.spy(store, 'getLockingIfDue');
      const manager = new TokenManager({ store, client: clientOf(emulator), cache: false });
      await manager.accessToken('1001');
      await manager.idle();
      for (let i = 0; i < 5; i++) await manager.accessToken('1001');
      expect(locking.callCount).to.equal(0);
      manager.close();
    });
  });
}
