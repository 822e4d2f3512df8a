import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  MemoryTokenStore,
  OAuthClient,
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  type TokenStore,
} from 'passport-samsara';
import { StoreUnavailableError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf, seedGrant } from './support/grants.js';
import { connect, startRedis, type RedisServer } from './support/redis.js';

const keys = generateSealingKey('kforced');

/** `store` as one process sees it, with some of its methods replaced (the rest go to `store`). */
function seenThrough(store: TokenStore, overrides: Partial<TokenStore>): TokenStore {
  return new Proxy(store, {
    get(target, name) {
      if (name in overrides) return overrides[name as keyof TokenStore];
      // Read on the store itself, so that its getters reach its private fields.
      const value: unknown = Reflect.get(target, name);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Two processes' views of one store: each its own object on the same data. */
interface Backend {
  stores(): [TokenStore, TokenStore];
  teardown(): Promise<void>;
}

const backends: [string, () => Promise<Backend>][] = [
  [
    'MemoryTokenStore',
    async () => {
      const store = new MemoryTokenStore();
      return { stores: () => [store, store], teardown: async () => {} };
    },
  ],
  [
    'RedisTokenStore',
    async () => {
      const server: RedisServer = await startRedis();
      const clients = [connect('ioredis 5', server), connect('ioredis 5', server)] as Redis[];
      const stores = clients.map((client) => new RedisTokenStore({ client, keys, prefix: 'forced:' }));
      return {
        stores: () => [stores[0], stores[1]] as [TokenStore, TokenStore],
        teardown: async () => {
          await Promise.all(stores.map((store) => store.close()));
          for (const client of clients) client.disconnect();
          await server.stop();
        },
      };
    },
  ],
];

for (const [name, start] of backends) {
  describe(`TokenManager: the order of events that matters, forced (${name})`, function () {
    this.timeout(20_000);
    let backend: Backend;
    let emulator: SamsaraEmulator;

    beforeEach(async () => {
      [backend, emulator] = await Promise.all([start(), startSamsaraEmulator({ revokeOnReuse: true })]);
    });
    afterEach(async () => {
      await Promise.all([backend.teardown(), emulator.stop()]);
    });

    const managerOn = (store: TokenStore, lockTtl?: number): TokenManager =>
      new TokenManager({
        store,
        client: new OAuthClient({ ...clientOf(emulator), timeout: 1_000 }),
        ...(lockTtl !== undefined && { lockTtl }),
      });

    it('A reads, B refreshes and releases the lock, then A takes it: 1 token request, 0 invalid_grant, the grant alive', async () => {
      const [storeA, storeB] = backend.stores();
      const seeded = await seedGrant(emulator, storeB);
      let openA!: () => void;
      const gate = new Promise<void>((resolve) => (openA = resolve));
      let readsA = 0;
      // A's first read reads at once, and answers only once B is done. A plain read: one that takes
      // the lock with it (Redis's getLockingIfDue) cannot answer stale, B would wait for A's lock.
      const a = managerOn(
        seenThrough(storeA, {
          getLockingIfDue: undefined,
          get: async (key: string) => {
            const creds = await storeA.get(key);
            if (readsA++ === 0) await gate;
            return creds;
          },
        }),
      );
      const b = managerOn(storeB);

      const tokenA = a.accessToken('1001');
      while (readsA === 0) await sleep(1);
      const tokenB = await b.accessToken('1001');
      await b.idle(); // the lock's release
      openA();

      expect(await tokenA).to.equal(tokenB);
      expect(emulator.counters.grants.refresh_token).to.equal(1);
      expect(emulator.counters.invalidGrant).to.equal(0);
      const stored = await storeB.get('1001');
      expect(stored?.accessToken).to.equal(tokenB);
      expect(emulator.grantStatus(stored?.refreshToken ?? '')).to.equal('active');
      expect(emulator.grantStatus(seeded.refreshToken)).to.equal('rotated');
    });

    it("A's rotation is unsaved past its lock's ttl: A keeps (extends) the lock and writes again, B never spends the old token", async () => {
      const [storeA, storeB] = backend.stores();
      await seedGrant(emulator, storeB);
      const lockTtl = 2_000;
      // A's writes fail (a store that does not make them durable) for twice the lock's ttl.
      const failUntil = Date.now() + 2 * lockTtl;
      let failedWrites = 0;
      const a = managerOn(
        seenThrough(storeA, {
          update: async (...args: Parameters<TokenStore['update']>) => {
            if (Date.now() < failUntil) {
              failedWrites++;
              throw new StoreUnavailableError('not durable yet (forced)');
            }
            return storeA.update(...args);
          },
        }),
        lockTtl,
      );
      const b = managerOn(storeB, lockTtl);

      const tokenA = await a.accessToken('1001');
      // B arrives past the first lock's ttl, while A still cannot save.
      await sleep(lockTtl + 200);
      expect(await storeB.get('1001').then((creds) => creds?.accessToken)).to.not.equal(tokenA);
      const tokenB = await b.accessToken('1001');
      await a.idle();

      expect(tokenB).to.equal(tokenA);
      expect(failedWrites).to.be.at.least(2);
      expect(emulator.counters.grants.refresh_token).to.equal(1);
      expect(emulator.counters.invalidGrant).to.equal(0);
      expect((await storeB.get('1001'))?.accessToken).to.equal(tokenA);
    });
  });
}
