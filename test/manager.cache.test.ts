import { expect } from 'chai';
import type { Cluster, Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import sinon from 'sinon';
import {
  ReauthorizationRequiredError,
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  type Credentials,
  type TokenManagerOptions,
} from 'passport-samsara';
import { ConfigurationError } from 'passport-samsara/errors';
import { type StoreWatch } from 'passport-samsara/store';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { fakeClock, until } from './support/clock.js';
import { clientOf, countReads, gated, seedGrant, type Reads } from './support/grants.js';
import { connect, startRedis, startRedisCluster, type RedisCluster, type RedisServer } from './support/redis.js';

/** One process of a fleet: its own Redis connection, store and manager, with its store reads counted. */
interface Proc {
  manager: TokenManager;
  store: RedisTokenStore;
  reads: Reads;
  /** The keys this process's store told it about (undefined: everything). */
  told: (string | undefined)[];
  /** The watches its manager started. */
  watches: StoreWatch[];
}

describe('TokenManager: the credential cache, on RedisTokenStore', function () {
  this.timeout(20_000);
  let emulator: SamsaraEmulator;
  let redis: RedisServer;
  let prefix: string;
  const keys = generateSealingKey('cache');
  const clients: Redis[] = [];
  const stores: RedisTokenStore[] = [];

  before(async () => {
    emulator = await startSamsaraEmulator({
      organizations: ['1001', '1002', '1003'].map((id) => ({ id, name: `Org ${id}`, vehicleCount: 0 })),
    });
    redis = await startRedis();
  });
  beforeEach(() => {
    prefix = `c-${randomUUID().slice(0, 8)}:`;
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    for (const c of clients.splice(0)) c.disconnect();
  });
  after(async () => {
    await redis.stop();
    await emulator.stop();
  });

  /** `deaf`: the store's notifications reach the cache only while `deaf.on` is false (a message late in transit). */
  function proc(options: Omit<TokenManagerOptions, 'store'> = {}, deaf = { on: false }): Proc {
    const client = connect('ioredis 5', redis) as Redis;
    const store = new RedisTokenStore({ client, keys, prefix });
    clients.push(client);
    stores.push(store);
    const told: (string | undefined)[] = [];
    const watches: StoreWatch[] = [];
    const watch = store.watch.bind(store);
    sinon.stub(store, 'watch').callsFake((onChange) => {
      const started = watch((key) => {
        told.push(key);
        if (!deaf.on) onChange(key);
      });
      watches.push(started);
      return started;
    });
    const reads = countReads(store);
    const manager = new TokenManager({ store, client: clientOf(emulator), ...options });
    return { manager, store, reads, told, watches };
  }

  /** `p`'s next store read reads at once but answers only when the test calls `open()`. */
  function holdNextRead(p: Proc): { open: () => void; reads: Reads } {
    p.reads.restore(); // the spy gives way to the gate's stub, which counts the reads from here on
    return gated(p.store, 1);
  }

  /** Calls until a call is served without a store read: the watch is live and the entry cached. */
  async function cached(p: Proc, key: string): Promise<string> {
    let token = '';
    await until(async () => {
      const before = p.reads.callCount;
      token = await p.manager.accessToken(key);
      return p.reads.callCount === before;
    }, 'a call served from memory');
    return token;
  }

  it('serves calls from memory once the watch is live: 200 calls, no store read', async () => {
    const a = proc();
    const creds = await seedGrant(emulator, a.store, '1001', 3600_000);
    expect(await cached(a, '1001')).to.equal(creds.accessToken);
    const before = a.reads.callCount;
    for (let i = 0; i < 200; i++) expect(await a.manager.accessToken('1001')).to.equal(creds.accessToken);
    expect(a.reads.callCount).to.equal(before);
  });

  it('drops the entry when another process rotates the grant: the next calls have the new token, long before maxAge', async () => {
    const a = proc({ cache: { maxAge: 60_000 } });
    const b = proc();
    const first = await seedGrant(emulator, a.store, '1001', 3600_000);
    await cached(a, '1001');
    const rotated = await b.manager.credentials('1001', { rejected: first.accessToken });
    expect(rotated.accessToken).to.not.equal(first.accessToken);
    await until(
      async () => (await a.manager.accessToken('1001')) === rotated.accessToken,
      "a's notice of the rotation",
    );
    const seen = await Promise.all(Array.from({ length: 50 }, () => a.manager.accessToken('1001')));
    expect(new Set(seen)).to.deep.equal(new Set([rotated.accessToken]));
  });

  it('drops the entry when another process disconnects the organization', async () => {
    const a = proc({ cache: { maxAge: 60_000 } });
    const b = proc();
    await seedGrant(emulator, a.store, '1001', 3600_000);
    await cached(a, '1001');
    await b.manager.revoke('1001');
    await until(
      () =>
        a.manager.accessToken('1001').then(
          () => false,
          (err: unknown) => err instanceof ReauthorizationRequiredError,
        ),
      'ReauthorizationRequiredError in a',
    );
  });

  it('fills nothing from a read that a change overtook: the next call reads the store', async () => {
    const a = proc({ cache: { maxAge: 60_000 } });
    const b = proc();
    await seedGrant(emulator, a.store, '1001', 3600_000);
    const old = await seedGrant(emulator, a.store, '1002', 3600_000);
    await cached(a, '1001'); // the watch is live
    // a's read of 1002 reads at once but answers only after b's rotation has been told to a.
    const { open, reads } = holdNextRead(a);
    const held = a.manager.accessToken('1002');
    await until(() => reads.callCount === 1, "a's read");
    const rotated = await b.manager.credentials('1002', { rejected: old.accessToken });
    await until(() => a.told.includes('1002'), 'the rotation told to a');
    open();
    expect(await held).to.equal(old.accessToken); // read before the rotation: served once
    expect(await a.manager.accessToken('1002')).to.equal(rotated.accessToken);
    expect(reads.callCount).to.equal(2);
  });

  it('fills nothing from a read begun before the watch was live (the first one, or one during a reconnection)', async () => {
    const a = proc({ cache: { maxAge: 60_000 } });
    const old = await seedGrant(emulator, a.store, '1001', 3600_000);
    const { open, reads } = holdNextRead(a);
    const held = a.manager.accessToken('1001');
    await until(() => a.watches.length > 0 && a.watches[0].live, 'the watch live while the first read is held');
    open();
    expect(await held).to.equal(old.accessToken);
    await a.manager.accessToken('1001');
    expect(reads.callCount).to.equal(2);
  });

  it("drops the entry at this process's own sign-in and Disconnect, without waiting to be told", async () => {
    const deaf = { on: false };
    const a = proc({ cache: { maxAge: 60_000 } }, deaf);
    await seedGrant(emulator, a.store, '1001', 3600_000);
    await cached(a, '1001');
    deaf.on = true;
    const grant = emulator.issueGrant('1001');
    const signedIn = await a.manager.connect('1001', {
      accessToken: grant.accessToken,
      refreshToken: grant.refreshToken,
      expiresAt: Date.now() + 3600_000,
    });
    expect(await a.manager.accessToken('1001')).to.equal(signedIn.accessToken);
    await a.manager.revoke('1001');
    const after = await a.manager.accessToken('1001').catch((err: unknown) => err);
    expect(after).to.be.instanceOf(ReauthorizationRequiredError);
  });

  it('close() stops the watch and drops every entry: later calls read the store', async () => {
    const a = proc();
    await seedGrant(emulator, a.store, '1001', 3600_000);
    await cached(a, '1001');
    a.manager.close();
    expect(a.watches.map((w) => w.live)).to.deep.equal([false]);
    const before = a.reads.callCount;
    for (let i = 0; i < 5; i++) await a.manager.accessToken('1001');
    expect(a.reads.callCount).to.equal(before + 5);
    expect(a.watches).to.have.length(1);
    const b = proc();
    b.manager.close(); // before any call: no watch is ever started
    for (let i = 0; i < 5; i++) await b.manager.accessToken('1001');
    expect(b.watches).to.deep.equal([]);
    expect(b.reads.callCount).to.equal(5);
  });

  it('drops the entry for a caller whose token was rejected, even before the change is told', async () => {
    const deaf = { on: false };
    const a = proc({ cache: { maxAge: 60_000 } }, deaf);
    const b = proc();
    const first = await seedGrant(emulator, a.store, '1001', 3600_000);
    await cached(a, '1001');
    deaf.on = true; // b's rotation is still in transit to a
    const rotated = await b.manager.credentials('1001', { rejected: first.accessToken });
    expect(await a.manager.accessToken('1001')).to.equal(first.accessToken);
    // The API rejects the old token in a: a reads the store, finds b's rotation, and drops its entry.
    expect((await a.manager.credentials('1001', { rejected: first.accessToken })).accessToken).to.equal(
      rotated.accessToken,
    );
    expect(await a.manager.accessToken('1001')).to.equal(rotated.accessToken);
    expect(emulator.counters.grants.refresh_token).to.be.greaterThan(0);
  });

  it('after a lost connection reads the store on every call until subscribed again, and keeps nothing from before', async () => {
    const a = proc({ cache: { maxAge: 60_000 } });
    const b = proc();
    const first = await seedGrant(emulator, a.store, '1001', 3600_000);
    await cached(a, '1001');
    const probe = connect('ioredis 5', redis) as Redis;
    clients.push(probe);
    await probe.client('KILL', 'TYPE', 'pubsub');
    await until(() => a.told.includes(undefined), "a's notice of the lost connection");
    // Whatever is published now may be lost: b's rotation must still reach a's next call.
    const rotated = await b.manager.credentials('1001', { rejected: first.accessToken });
    const before = a.reads.callCount;
    expect(await a.manager.accessToken('1001')).to.equal(rotated.accessToken);
    expect(a.reads.callCount).to.equal(before + 1);
    expect(await cached(a, '1001')).to.equal(rotated.accessToken); // subscribed again: cached again
  });

  it('never serves an entry past maxAge (a fake clock)', async () => {
    const clock = fakeClock();
    const a = proc({ clock, cache: { maxAge: 1000 } });
    await seedGrant(emulator, a.store, '1001', 3600_000);
    await cached(a, '1001');
    let before = a.reads.callCount;
    await clock.tick(999);
    await a.manager.accessToken('1001');
    expect(a.reads.callCount).to.equal(before);
    await clock.tick(1);
    await a.manager.accessToken('1001');
    expect(a.reads.callCount).to.equal(before + 1); // maxAge reached: read again, and cached again
    before = a.reads.callCount;
    await a.manager.accessToken('1001');
    expect(a.reads.callCount).to.equal(before);
  });

  it('never serves an entry once the token is due for refresh (expiresAt - skew, a fake clock)', async () => {
    const clock = fakeClock();
    const a = proc({ clock, skew: 60_000, cache: { maxAge: 60_000 } });
    // The seed's expiry is on real time, a few ms past the fake clock's start: due 5 s from it.
    const creds = await seedGrant(emulator, a.store, '1001', 60_000 + 5_000);
    await cached(a, '1001');
    const before = a.reads.callCount;
    await clock.tick(4_990);
    expect(await a.manager.accessToken('1001')).to.equal(creds.accessToken);
    expect(a.reads.callCount).to.equal(before);
    const refreshes = emulator.counters.grants.refresh_token;
    await clock.tick(100);
    const next = await a.manager.accessToken('1001');
    expect(next).to.not.equal(creds.accessToken);
    expect(emulator.counters.grants.refresh_token).to.equal(refreshes + 1);
  });

  it('keeps at most maxEntries organizations, dropping the oldest', async () => {
    const a = proc({ cache: { maxAge: 60_000, maxEntries: 2 } });
    for (const key of ['1001', '1002', '1003']) await seedGrant(emulator, a.store, key, 3600_000);
    await cached(a, '1001');
    await cached(a, '1002');
    await cached(a, '1003');
    let before = a.reads.callCount;
    await a.manager.accessToken('1002');
    await a.manager.accessToken('1003');
    expect(a.reads.callCount).to.equal(before);
    await a.manager.accessToken('1001');
    expect(a.reads.callCount).to.equal(before + 1);
    before = a.reads.callCount;
    await a.manager.accessToken('1003'); // 1001 came back and pushed out 1002, the oldest
    await a.manager.accessToken('1002');
    expect(a.reads.callCount).to.equal(before + 1);
  });

  it('cache: false reads the store on every call, and a closed store serves nothing from memory', async () => {
    const off = proc({ cache: false });
    await seedGrant(emulator, off.store, '1001', 3600_000);
    off.reads.resetHistory(); // the sign-in's own read (is the grant connected already?)
    for (let i = 0; i < 20; i++) await off.manager.accessToken('1001');
    expect(off.reads.callCount).to.equal(20);
    expect(off.told).to.deep.equal([]);
    const on = proc();
    await cached(on, '1001');
    await on.store.close();
    const before = on.reads.callCount;
    await on.manager.accessToken('1001');
    expect(on.reads.callCount).to.equal(before + 1);
  });

  it('refuses a maxAge or maxEntries out of range with ConfigurationError', () => {
    const client = connect('ioredis 5', redis) as Redis;
    clients.push(client);
    const store = new RedisTokenStore({ client, keys, prefix });
    stores.push(store);
    for (const cache of [{ maxAge: -1 }, { maxAge: 60_001 }, { maxEntries: 0 }, { maxEntries: 1.5 }]) {
      expect(() => new TokenManager({ store, client: clientOf(emulator), cache }), JSON.stringify(cache)).to.throw(
        ConfigurationError,
        /cache\.max/,
      );
    }
  });
});

for (const flavor of ['ioredis 5', 'ioredis 6', 'ioredis 5 Cluster'] as const) {
  describe(`RedisTokenStore.watch (${flavor})`, function () {
    this.timeout(30_000);
    let target: RedisServer | RedisCluster;
    const keys = generateSealingKey('watch');
    const clients: (Redis | Cluster)[] = [];
    const stores: RedisTokenStore[] = [];
    const grant = (n: number): Credentials => ({
      accessToken: `A${String(n)}`,
      refreshToken: `R${String(n)}`,
      expiresAt: Date.now() + 3600_000,
      grantId: `g${String(n)}`,
      version: 0,
    });

    before(async () => {
      target = flavor === 'ioredis 5 Cluster' ? await startRedisCluster() : await startRedis();
    });
    after(async () => {
      await Promise.all(stores.map((s) => s.close()));
      for (const c of clients) c.disconnect();
      await target.stop();
    });

    function storeOf(prefix: string): RedisTokenStore {
      const client = connect(flavor, target);
      clients.push(client);
      const store = new RedisTokenStore({ client, keys, prefix });
      stores.push(store);
      return store;
    }

    if (flavor === 'ioredis 5 Cluster') {
      // ioredis moves a Cluster's pub/sub connection between nodes without a word: a lost message
      // could never be known, so the watch never claims to be live, and the manager reads every call.
      it('is never live: the manager reads Redis on every call', async () => {
        const store = storeOf('wc:');
        const watch = store.watch(() => undefined);
        await store.replace('1001', grant(1), 10);
        const reads = countReads(store);
        const manager = new TokenManager({ store, client: { clientID: 'c', clientSecret: 's' } });
        for (let i = 0; i < 20; i++) await manager.accessToken('1001');
        expect(reads.callCount).to.equal(20);
        expect(watch.live).to.equal(false);
      });
      return;
    }

    it('tells the key of every write and removal under its own prefix only, glob characters in the prefix included', async () => {
      const watched = storeOf('w*[?]:');
      const other = storeOf('wX[?]:');
      const told: (string | undefined)[] = [];
      const watch = watched.watch((key) => told.push(key));
      await until(() => watch.live, 'the watch live');
      await other.replace('org/é 1', grant(1), 10); // a prefix the pattern's * would match, unescaped
      const stored = await watched.replace('org/é 1', grant(2), 10);
      await until(() => told.length >= 1, 'the write told');
      expect(told).to.deep.equal(['org/é 1']);
      await watched.remove('org/é 1', stored.version);
      await until(() => told.length >= 2, 'the removal told');
      expect(told[1]).to.equal('org/é 1');
      watch.close();
      expect(watch.live).to.equal(false);
    });
  });
}
