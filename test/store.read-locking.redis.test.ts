import { expect } from 'chai';
import sinon from 'sinon';
import type { Cluster, Redis } from 'ioredis';
import { RedisTokenStore, TokenManager, generateSealingKey, type NewCredentials } from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf, countReads, seedGrant } from './support/grants.js';
import {
  connect,
  startRedis,
  startRedisCluster,
  type RedisCluster,
  type RedisFlavor,
  type RedisServer,
} from './support/redis.js';

const keys = generateSealingKey('read-locking');
const SKEW = 60_000;

for (const flavor of ['ioredis 5', 'ioredis 5 Cluster'] satisfies RedisFlavor[]) {
  describe(`RedisTokenStore.getLockingIfDue: the read that takes the refresh lock with it (${flavor})`, function () {
    this.timeout(20_000);
    let target: RedisServer | RedisCluster;
    const clients: (Redis | Cluster)[] = [];
    const stores: RedisTokenStore[] = [];
    let n = 0;

    before(async () => {
      target = flavor === 'ioredis 5 Cluster' ? await startRedisCluster() : await startRedis();
    });
    after(async () => {
      await Promise.all(stores.map((s) => s.close()));
      for (const c of clients) c.disconnect();
      await target.stop();
    });

    /** Two processes' stores over the same data, under a prefix of the test's own. */
    function pair(): [RedisTokenStore, RedisTokenStore] {
      const prefix = `rl${String(++n)}:`;
      const made = [0, 1].map(() => {
        const client = connect(flavor, target);
        clients.push(client);
        const store = new RedisTokenStore({ client, keys, prefix });
        stores.push(store);
        return store;
      });
      return [made[0], made[1]];
    }

    const grantExpiring = (inMs: number): NewCredentials => ({
      accessToken: `A${String(n)}`,
      refreshToken: `R${String(n)}`,
      expiresAt: Date.now() + inMs,
      grantId: `g${String(n)}`,
    });

    it('reads without locking while the grant is not due, and locks in the same step once it is', async () => {
      const [a, b] = pair();
      const stored = await a.replace('1001', grantExpiring(3600_000), 10);
      const early = await a.getLockingIfDue('1001', Date.now() + SKEW, 5_000);
      expect(early.credentials).to.deep.equal(stored);
      expect(early.lock, 'not asked for').to.equal(undefined);
      const free = await b.lock('1001', 5_000);
      expect(free, 'the lock is free').to.not.equal(null);
      await free?.release();

      // Due by the caller's clock: expiring before now + skew.
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
      const [a, b] = pair();
      expect(await a.getLockingIfDue('1001', Date.now() + SKEW, 5_000)).to.deep.equal({ credentials: null });
      const stored = await a.replace('1001', grantExpiring(-1_000), 10);
      expect(await a.remove('1001', stored.version)).to.equal(true);
      expect(await a.getLockingIfDue('1001', Date.now() + SKEW, 5_000)).to.deep.equal({ credentials: null });
      const free = await b.lock('1001', 5_000);
      expect(free).to.not.equal(null);
      await free?.release();
    });
  });
}

describe('TokenManager on RedisTokenStore: a due grant read from the store is locked by that read', function () {
  this.timeout(20_000);
  let redis: RedisServer;
  let emulator: SamsaraEmulator;
  const clients: Redis[] = [];
  const stores: RedisTokenStore[] = [];
  let n = 0;

  before(async () => {
    redis = await startRedis();
    emulator = await startSamsaraEmulator();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    for (const c of clients.splice(0)) c.disconnect();
  });
  after(async () => {
    await emulator.stop();
    await redis.stop();
  });

  function storeOf(prefix: string): RedisTokenStore {
    const client = connect('ioredis 5', redis) as Redis;
    clients.push(client);
    const store = new RedisTokenStore({ client, keys, prefix });
    stores.push(store);
    return store;
  }

  it('refreshes an expired grant with one store call before the token request, and never calls lock()', async () => {
    const store = storeOf(`mrl${String(++n)}:`);
    const seeded = await seedGrant(emulator, store, '1001', -1_000);
    const reads = countReads(store);
    const locks = sinon.spy(store, 'lock');
    const manager = new TokenManager({ store, client: clientOf(emulator) });
    const tokens = await Promise.all(Array.from({ length: 20 }, () => manager.accessToken('1001')));
    await manager.idle();
    expect(new Set(tokens).size).to.equal(1);
    expect(tokens[0]).to.not.equal(seeded.accessToken);
    expect(reads.callCount, 'the one locking read').to.equal(1);
    expect(locks.callCount).to.equal(0);
    expect(emulator.counters.grants.refresh_token).to.be.greaterThan(0);
    expect((await store.get('1001'))?.accessToken).to.equal(tokens[0]);
    const after = await store.lock('1001', 1_000);
    expect(after, 'the lock was released after the write').to.not.equal(null);
    await after?.release();
    manager.close();
  });

  it('two processes, one expired grant: one token request; the other waits for the write and adopts it', async () => {
    const prefix = `mrl${String(++n)}:`;
    const [a, b] = [storeOf(prefix), storeOf(prefix)];
    await seedGrant(emulator, a, '1001', -1_000);
    const before = emulator.counters.grants.refresh_token;
    const managers = [a, b].map((store) => new TokenManager({ store, client: clientOf(emulator) }));
    const tokens = await Promise.all(managers.flatMap((m) => Array.from({ length: 10 }, () => m.accessToken('1001'))));
    await Promise.all(managers.map((m) => m.idle()));
    expect(new Set(tokens).size).to.equal(1);
    expect(emulator.counters.grants.refresh_token - before).to.equal(1);
    expect(emulator.counters.invalidGrant).to.equal(0);
    managers.forEach((m) => m.close());
  });

  it('lets the lock go when the stored expiry disagrees with the sealed grant and there is nothing to refresh', async () => {
    const prefix = `mrl${String(++n)}:`;
    const store = storeOf(prefix);
    const seeded = await seedGrant(emulator, store, '1001', 3600_000);
    // The expiry field says due; the sealed grant (what the manager trusts) is fresh.
    await clients[0].hset(`${prefix}{org:1001}`, 'e', '0');
    const manager = new TokenManager({ store, client: clientOf(emulator) });
    const before = emulator.counters.grants.refresh_token;
    expect(await manager.accessToken('1001')).to.equal(seeded.accessToken);
    await manager.idle();
    expect(emulator.counters.grants.refresh_token).to.equal(before);
    const free = await store.lock('1001', 1_000);
    expect(free, 'the read took the lock and gave it back').to.not.equal(null);
    await free?.release();
    manager.close();
  });

  it('without the cache (every call reads), reads plainly: no script per call', async () => {
    const store = storeOf(`mrl${String(++n)}:`);
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
