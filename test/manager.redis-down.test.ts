import { expect } from 'chai';
import Redis from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  OAuthClient,
  ReauthorizationRequiredError,
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  type Credentials,
} from 'passport-samsara';
import { StoreUnavailableError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { until } from './support/clock.js';
import { clientOf, seedGrant } from './support/grants.js';
import { connect, startRedis, type RedisServer } from './support/redis.js';

describe('TokenManager when Redis dies mid-request', function () {
  this.timeout(30_000);
  let emulator: SamsaraEmulator;
  let redis: RedisServer;
  let client: Redis;
  let store: RedisTokenStore;
  let manager: TokenManager;
  let keys: string;
  const STORE_TIMEOUT = 300;
  let strictClients: Redis[] = [];

  beforeEach(async () => {
    emulator = await startSamsaraEmulator();
    // Persistent, so a SIGKILLed Redis comes back with what it acknowledged: anything missing then is the library's loss.
    redis = await startRedis({ persistent: true });
    client = connect('ioredis 5', redis) as Redis;
    keys = generateSealingKey();
    store = new RedisTokenStore({ client, keys, prefix: 'down:', timeout: STORE_TIMEOUT });
    manager = new TokenManager({
      store,
      client: new OAuthClient({ ...clientOf(emulator), timeout: 1_000 }),
    });
  });
  afterEach(async () => {
    strictClients = [];
    redis.resume();
    await store.close();
    client.disconnect();
    await redis.stop();
    await emulator.stop();
  });

  async function expectFastStoreUnavailable(): Promise<void> {
    const started = Date.now();
    const err = await manager.accessToken('1001').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(StoreUnavailableError);
    expect(err).to.include({ code: 'SAMSARA_STORE_UNAVAILABLE', status: 503 });
    expect(Date.now() - started).to.be.below(STORE_TIMEOUT + 700);
  }

  /**
   * A second process's store, on a client that neither queues nor resends a command Redis never
   * answered: ioredis's defaults would deliver a write lost in the crash after the restart, the
   * kinder outcome the last test shows. `close()` ends its client too.
   */
  async function strictStore(): Promise<RedisTokenStore> {
    const strict = new Redis({
      host: redis.host,
      port: redis.port,
      retryStrategy: () => 50,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      lazyConnect: true,
    });
    strict.on('error', () => undefined);
    await strict.connect(); // without an offline queue, a command before the connection fails
    strictClients.push(strict);
    const aStore = new RedisTokenStore({ client: strict, keys, prefix: 'down:', timeout: STORE_TIMEOUT });
    const close = aStore.close.bind(aStore);
    aStore.close = async () => {
      await close();
      strict.disconnect();
    };
    return aStore;
  }

  /**
   * Seeds an expired grant, lets `refresher` refresh it, and kills Redis while the (delayed) token
   * request is at the emulator: Samsara rotated, the store cannot take the new tokens, and the
   * caller is served them all the same (unsaved, kept in this process).
   */
  async function killMidRefresh(refresher: TokenManager): Promise<Credentials> {
    const seeded = await seedGrant(emulator, store);
    emulator.injectFault('token', { type: 'delay', ms: 500 });
    let settled = false;
    const refreshing = refresher.accessToken('1001').then(
      (token) => ((settled = true), token),
      (e: unknown) => ((settled = true), e),
    );
    while (emulator.counters.grants.refresh_token === 0) {
      if (settled) throw new Error(`the refresh ended before reaching the token endpoint: ${String(await refreshing)}`);
      await sleep(5);
    }
    await redis.kill();
    const served = await refreshing;
    expect(served).to.be.a('string').and.not.equal(seeded.accessToken);
    expect(emulator.grantStatus(seeded.refreshToken)).to.equal('rotated');
    return seeded;
  }

  async function eventually(): Promise<string> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        return await manager.accessToken('1001');
      } catch (err) {
        if (!(err instanceof StoreUnavailableError) || Date.now() > deadline) throw err;
        await sleep(100);
      }
    }
  }

  it('SIGKILL: fails fast with StoreUnavailableError, then serves the same credentials once Redis is back', async () => {
    const seeded = await seedGrant(emulator, store, '1001', 3600_000);
    await redis.kill();
    await expectFastStoreUnavailable();
    await redis.restart();
    expect(await eventually()).to.equal(seeded.accessToken);
    expect(await store.get('1001')).to.deep.equal(seeded);
    expect(emulator.counters.tokenRequests).to.equal(0);
  });

  it('SIGSTOP: fails fast with StoreUnavailableError, then recovers on SIGCONT', async () => {
    const seeded = await seedGrant(emulator, store, '1001', 3600_000);
    redis.pause();
    await expectFastStoreUnavailable();
    redis.resume();
    expect(await eventually()).to.equal(seeded.accessToken);
    expect(emulator.counters.tokenRequests).to.equal(0);
  });

  it('an expired token while Redis is stopped: no refresh without the lock', async () => {
    await seedGrant(emulator, store);
    redis.pause();
    await expectFastStoreUnavailable();
    expect(emulator.counters.tokenRequests).to.equal(0);
  });

  it('killed during a refresh: another process that then finds the grant "dead" does not lose it', async () => {
    const aStore = await strictStore();
    const a = new TokenManager({ store: aStore, client: manager.client, lockTtl: 2_000 });
    const b = new TokenManager({ store, client: manager.client, lockTtl: 2_000 });
    try {
      const seeded = await killMidRefresh(a);
      // Redis stays down until A's background retries have given up (at the end of A's lock).
      await a.idle();
      await redis.restart();
      await until(() => [client, ...strictClients].every((c) => c.status === 'ready'), 'the clients to reconnect');

      // B finds no lock and presents the rotated-out refresh token.
      const bErr = await b.accessToken('1001').catch((e: unknown) => e);
      expect(bErr).to.be.instanceOf(ReauthorizationRequiredError);
      expect(await store.get('1001')).to.equal(null);

      // A still holds the grant's only live tokens, and they land over B's tombstone.
      const token = await a.accessToken('1001');
      const stored = (await store.get('1001')) as Credentials;
      expect(token).to.equal(stored.accessToken).and.not.equal(seeded.accessToken);
      expect(emulator.grantStatus(stored.refreshToken)).to.equal('active');
      expect(await b.accessToken('1001')).to.equal(token);
    } finally {
      await aStore.close();
    }
  });

  it('killed during a refresh and back within the lock: the kept credentials are written in the background', async () => {
    const aStore = await strictStore();
    try {
      const a = new TokenManager({ store: aStore, client: manager.client, lockTtl: 3_000 });
      const seeded = await killMidRefresh(a);
      await redis.restart();
      // Nobody asks A again; its retries land the write anyway, and everyone else gets it.
      const token = await eventually();
      const stored = (await store.get('1001')) as Credentials;
      expect(token).to.equal(stored.accessToken).and.not.equal(seeded.accessToken);
      expect(emulator.counters.grants.refresh_token).to.equal(1);
      expect(emulator.counters.invalidGrant).to.equal(0);
    } finally {
      await aStore.close();
    }
  });

  it('killed during a refresh: the rotated credentials are kept and written once Redis is back', async () => {
    const seeded = await killMidRefresh(manager);
    expect(emulator.grantStatus(seeded.refreshToken)).to.equal('rotated');

    await redis.restart();
    const token = await eventually();
    const stored = (await store.get('1001')) as Credentials;
    expect(token).to.equal(stored.accessToken).and.not.equal(seeded.accessToken);
    expect(stored.version).to.equal(seeded.version + 1);
    expect(emulator.grantStatus(stored.refreshToken)).to.equal('active');
    expect(emulator.counters.grants.refresh_token).to.equal(1);
  });
});
