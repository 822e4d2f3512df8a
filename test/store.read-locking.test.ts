import { expect } from 'chai';
import sinon from 'sinon';
import type { Cluster, Redis } from 'ioredis';
import type { Pool } from 'pg';
import { PostgresTokenStore, RedisTokenStore, TokenManager, generateSealingKey } from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { until } from './support/clock.js';
import { clientOf, countReads, seedGrant, type Reads } from './support/grants.js';
import { dropSchema, pool, testSchema } from './support/postgres.js';
import { connect, startRedis, startRedisCluster, type RedisFlavor } from './support/redis.js';

const keys = generateSealingKey('read-locking');

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
      const made = byStore.get(store);
      if (!made) throw new Error('a store of this backend was expected');
      const { client, prefix } = made;
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

/** Each backend, and whether its store's watch can be live (never on a Cluster). */
const backends: [string, () => Promise<Backend>, boolean][] = [
  ['RedisTokenStore', () => redisBackend('ioredis 5'), true],
  ['RedisTokenStore on a Cluster', () => redisBackend('ioredis 5 Cluster'), false],
  ['PostgresTokenStore', postgresBackend, true],
];

for (const [name, start, watched] of backends) {
  describe(`TokenManager on ${name}: a due grant read from the store is locked by that read`, function () {
    this.timeout(20_000);
    let backend: Backend;
    let emulator: SamsaraEmulator;

    before(async () => {
      backend = await start();
      emulator = await startSamsaraEmulator({
        organizations: ['1001', '1002'].map((id) => ({ id, name: `Org ${id}`, vehicleCount: 0 })),
      });
    });
    after(async () => {
      await backend.stop();
      await emulator.stop();
    });

    /**
     * A manager with the cache on `store`, its watch live (a call served from memory), and the
     * store's calls from then on counted: its reads, its locking reads, its lock calls.
     */
    async function managerOn(
      store: Store,
    ): Promise<{ manager: TokenManager; reads: Reads; locking: sinon.SinonSpy; locks: sinon.SinonSpy }> {
      const manager = new TokenManager({ store, client: clientOf(emulator), cache: { maxAge: 60_000 } });
      const warming = countReads(store);
      await seedGrant(emulator, store, '1002', 3600_000);
      await until(async () => {
        const before = warming.callCount;
        await manager.accessToken('1002');
        return warming.callCount === before;
      }, 'the watch live');
      warming.restore();
      const reads = countReads(store);
      // countReads spies on both read methods: this one is its spy.
      const locking = store.getLockingIfDue as unknown as sinon.SinonSpy;
      return { manager, reads, locking, locks: sinon.spy(store, 'lock') };
    }

    if (!watched) {
      it('reads plainly: its watch is never live, so every call reads, and a locking read would be a script a call', async () => {
        const [store] = await backend.pair();
        await seedGrant(emulator, store, '1001', -1_000);
        const locking = sinon.spy(store, 'getLockingIfDue');
        const manager = new TokenManager({ store, client: clientOf(emulator) });
        const first = await manager.accessToken('1001');
        await manager.idle();
        for (let i = 0; i < 5; i++) expect(await manager.accessToken('1001')).to.equal(first);
        expect(locking.callCount).to.equal(0);
        manager.close();
      });
      return;
    }

    it('refreshes an expired grant with one store call before the token request, and never calls lock()', async () => {
      const [store] = await backend.pair();
      const { manager, reads, locking, locks } = await managerOn(store);
      const seeded = await seedGrant(emulator, store, '1001', -1_000);
      reads.resetHistory(); // the sign-in's own read
      const tokens = await Promise.all(Array.from({ length: 20 }, () => manager.accessToken('1001')));
      await manager.idle();
      expect(new Set(tokens).size).to.equal(1);
      expect(tokens[0]).to.not.equal(seeded.accessToken);
      expect(reads.callCount, 'the one locking read').to.equal(1);
      expect((await locking.firstCall.returnValue)?.lock, 'the read took the lock').to.not.equal(undefined);
      expect(locks.callCount).to.equal(0);
      expect((await store.get('1001'))?.accessToken).to.equal(tokens[0]);
      const after = await store.lock('1001', 1_000);
      expect(after, 'the lock was released after the write').to.not.equal(null);
      await after?.release();
      manager.close();
    });

    it('two processes, one expired grant: one token request; the other learns from its read that the lock is held', async () => {
      const [a, b] = await backend.pair();
      const managers = [await managerOn(a), await managerOn(b)];
      await seedGrant(emulator, a, '1001', -1_000);
      const before = emulator.counters.grants.refresh_token;
      const invalid = emulator.counters.invalidGrant;
      const tokens = await Promise.all(
        managers.flatMap(({ manager }) => Array.from({ length: 10 }, () => manager.accessToken('1001'))),
      );
      await Promise.all(managers.map(({ manager }) => manager.idle()));
      expect(new Set(tokens).size).to.equal(1);
      expect(emulator.counters.grants.refresh_token - before).to.equal(1);
      expect(emulator.counters.invalidGrant - invalid).to.equal(0);
      expect(
        managers.map(({ locks }) => locks.callCount),
        'neither asked for the lock apart from its read',
      ).to.deep.equal([0, 0]);
      managers.forEach(({ manager }) => manager.close());
    });

    it("A's read takes the lock and answers late; B's read, meanwhile, finds it held, waits, and adopts A's write: 1 token request", async () => {
      const [a, b] = await backend.pair();
      const [pa, pb] = [await managerOn(a), await managerOn(b)];
      await seedGrant(emulator, a, '1001', -1_000);
      const before = emulator.counters.grants.refresh_token;
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      let answered = false;
      const read = pa.locking as unknown as NonNullable<Store['getLockingIfDue']>;
      a.getLockingIfDue = async (...args) => {
        const answer = await read.apply(a, args);
        answered = true;
        await gate;
        return answer;
      };
      const tokenA = pa.manager.accessToken('1001');
      await until(() => answered, "A's read answered (and held back)");
      const tokenB = pb.manager.accessToken('1001');
      await until(() => pb.locking.callCount === 1, "B's read");
      expect((await pb.locking.firstCall.returnValue)?.lock, 'held by A').to.equal(null);
      let bDone = false;
      void tokenB.then(() => (bDone = true));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(bDone, 'B waits for A').to.equal(false);
      open();
      const [ta, tb] = await Promise.all([tokenA, tokenB]);
      await Promise.all([pa.manager.idle(), pb.manager.idle()]);
      expect(tb).to.equal(ta);
      expect(emulator.counters.grants.refresh_token - before).to.equal(1);
      expect([pa.locks.callCount, pb.locks.callCount]).to.deep.equal([0, 0]);
      [pa, pb].forEach(({ manager }) => manager.close());
    });

    it('lets the lock go when the stored expiry disagrees with the sealed grant and there is nothing to refresh', async () => {
      const [store] = await backend.pair();
      const { manager, locking } = await managerOn(store);
      const seeded = await seedGrant(emulator, store, '1001', 3600_000);
      // The stored expiry says due; the sealed grant (what the manager trusts) is fresh.
      await backend.setStoredExpiry(store, '1001', 1);
      const before = emulator.counters.grants.refresh_token;
      expect(await manager.accessToken('1001')).to.equal(seeded.accessToken);
      await manager.idle();
      expect((await locking.firstCall.returnValue)?.lock, 'the read took the lock').to.not.equal(undefined);
      expect(emulator.counters.grants.refresh_token).to.equal(before);
      const free = await store.lock('1001', 1_000);
      expect(free, 'and gave it back').to.not.equal(null);
      await free?.release();
      manager.close();
    });

    it('takes no lock on a stored expiry of 0 (an imported grant whose expiry was unknown): the manager opens it and locks itself', async () => {
      const [store] = await backend.pair();
      const { manager, locking, locks } = await managerOn(store);
      const seeded = await seedGrant(emulator, store, '1001', -1_000);
      await backend.setStoredExpiry(store, '1001', 0);
      const token = await manager.accessToken('1001');
      await manager.idle();
      expect(token).to.not.equal(seeded.accessToken);
      expect((await locking.firstCall.returnValue)?.lock).to.equal(undefined);
      expect(locks.callCount, 'the lock, asked for apart').to.equal(1);
      manager.close();
    });

    it('without the cache (every call reads), reads plainly: no locking read per call', async () => {
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
