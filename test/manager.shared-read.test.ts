import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import sinon from 'sinon';
import {
  MemoryTokenStore,
  OAuthClient,
  ReauthorizationRequiredError,
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  type Credentials,
} from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf, gated, seedGrant } from './support/grants.js';
import { connect, startRedis, type RedisServer } from './support/redis.js';

describe('TokenManager: concurrent callers share one store read', () => {
  let emulator: SamsaraEmulator;
  let store: MemoryTokenStore;
  let manager: TokenManager;

  beforeEach(async () => {
    emulator = await startSamsaraEmulator();
    store = new MemoryTokenStore();
    manager = new TokenManager({ store, client: new OAuthClient({ ...clientOf(emulator), timeout: 400 }) });
  });
  afterEach(() => emulator.stop());

  it('reads the store once for 100 concurrent callers of one key, and once per sequential call', async () => {
    const creds = await seedGrant(emulator, store, '1001', 3600_000);
    const reads = sinon.spy(store, 'get');
    const tokens = await Promise.all(Array.from({ length: 100 }, () => manager.accessToken('1001')));
    expect(new Set(tokens)).to.deep.equal(new Set([creds.accessToken]));
    expect(reads.callCount).to.equal(1);
    await manager.accessToken('1001');
    await manager.accessToken('1001');
    expect(reads.callCount).to.equal(3); // a MemoryTokenStore tells no changes: nothing is cached between calls
  });

  it('shares reads per key, never across keys', async () => {
    await seedGrant(emulator, store, '1001', 3600_000);
    const grant = emulator.issueGrant('1001');
    await manager.connect('1002', {
      accessToken: grant.accessToken,
      refreshToken: grant.refreshToken,
      expiresAt: Date.now() + 3600_000,
    });
    const reads = sinon.spy(store, 'get');
    await Promise.all([manager.accessToken('1001'), manager.accessToken('1002'), manager.accessToken('1001')]);
    expect(reads.callCount).to.equal(2);
  });

  it('gives a caller with a rejected token a read of its own, begun after the rejection', async () => {
    const old = await seedGrant(emulator, store, '1001', 3600_000);
    const { open, reads } = gated(store, 2);
    const plain = manager.accessToken('1001');
    const rejected = manager.accessToken('1001', { rejected: old.accessToken });
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads.callCount).to.equal(2);
    open();
    expect(await plain).to.equal(old.accessToken);
    const next = await rejected;
    expect(next).to.not.equal(old.accessToken);
    expect(emulator.counters.grants.refresh_token).to.equal(1);
  });

  it('does not hand a read begun before a sign-in in this process to a caller that comes after it', async () => {
    const old = await seedGrant(emulator, store, '1001', 3600_000);
    const { open, reads } = gated(store, 1);
    const before = manager.accessToken('1001');
    await new Promise((resolve) => setImmediate(resolve));
    const grant = emulator.issueGrant('1001');
    await manager.connect('1001', {
      accessToken: grant.accessToken,
      refreshToken: grant.refreshToken,
      expiresAt: Date.now() + 3600_000,
    });
    const after = manager.accessToken('1001');
    await new Promise((resolve) => setImmediate(resolve));
    // The held read, the sign-in's own (is the grant connected already?), and the later caller's.
    expect(reads.callCount).to.equal(3);
    open();
    expect(await before).to.equal(old.accessToken);
    expect(await after).to.equal(grant.accessToken);
  });

  it('does not hand a read begun before a Disconnect in this process to a caller that comes after it', async () => {
    await seedGrant(emulator, store, '1001', 3600_000);
    const { open } = gated(store, 1);
    const before = manager.accessToken('1001');
    await new Promise((resolve) => setImmediate(resolve));
    await manager.revoke('1001');
    const after = await manager.accessToken('1001').catch((err: unknown) => err);
    open();
    expect(await before).to.be.a('string');
    expect(after).to.be.instanceOf(ReauthorizationRequiredError);
  });

  it('lets callers that arrive while a refresh is in progress join it, with no read of their own', async () => {
    const slow = await startSamsaraEmulator({ latency: 200 });
    try {
      const refreshing = new TokenManager({ store, client: new OAuthClient({ ...clientOf(slow), timeout: 2_000 }) });
      const old = await seedGrant(slow, store, '1001', -1_000);
      const reads = sinon.spy(store, 'get');
      const first = refreshing.accessToken('1001');
      // The token request is under way (it takes 200 ms): what was read, was read.
      await new Promise((resolve) => setTimeout(resolve, 50));
      const readsBefore = reads.callCount;
      const later = await Promise.all(Array.from({ length: 10 }, () => refreshing.accessToken('1001')));
      const token = await first;
      expect(token).to.not.equal(old.accessToken);
      expect(new Set(later)).to.deep.equal(new Set([token]));
      expect(reads.callCount, 'reads by the callers who joined').to.equal(readsBefore);
      expect(slow.counters.grants.refresh_token).to.equal(1);
      await refreshing.idle();
    } finally {
      await slow.stop();
    }
  });

  it("hands onConnect (and the sign-in's webhook setup) the grant it connected, not a refresh begun before it", async () => {
    const slow = await startSamsaraEmulator({ latency: 200 });
    try {
      let seenByHook: string | undefined;
      const refreshing: TokenManager = new TokenManager({
        store,
        client: new OAuthClient({ ...clientOf(slow), timeout: 2_000 }),
        onConnect: async ({ orgId }) => {
          seenByHook = await refreshing.accessToken(orgId);
        },
      });
      await seedGrant(slow, store, '1001', -1_000);
      // A refresh of the old grant is under way (its token request takes 200 ms) when the sign-in lands.
      const refresh = refreshing.accessToken('1001').catch((err: unknown) => err);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const grant = slow.issueGrant('1001');
      await refreshing.connect('1001', {
        accessToken: grant.accessToken,
        refreshToken: grant.refreshToken,
        expiresAt: Date.now() + 3600_000,
      });
      expect(seenByHook).to.equal(grant.accessToken);
      await refresh;
      await refreshing.idle();
    } finally {
      await slow.stop();
    }
  });

  it('gives every sharer the same failure, and the next caller a new read', async () => {
    const reads = sinon.spy(store, 'get');
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => manager.accessToken('404')));
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof ReauthorizationRequiredError)).to.equal(
      true,
    );
    expect(reads.callCount).to.equal(1);
    await manager.accessToken('404').catch(() => undefined);
    expect(reads.callCount).to.equal(2);
  });
});

describe('TokenManager: shared reads on two RedisTokenStores over one Redis, without the cache', function () {
  this.timeout(20_000);
  let emulator: SamsaraEmulator;
  let redis: RedisServer;
  const clients: Redis[] = [];
  const stores: RedisTokenStore[] = [];

  before(async () => {
    emulator = await startSamsaraEmulator();
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    for (const c of clients) c.disconnect();
    await redis.stop();
    await emulator.stop();
  });

  function process(prefix: string, keys: string): TokenManager {
    const client = connect('ioredis 5', redis) as Redis;
    const store = new RedisTokenStore({ client, keys, prefix });
    clients.push(client);
    stores.push(store);
    return new TokenManager({ store, client: clientOf(emulator), cache: false });
  }

  it("sees another process's rotation and Disconnect on its next call: nothing outlives a read", async () => {
    const keys = generateSealingKey('test');
    const prefix = `t-${randomUUID().slice(0, 8)}:`;
    const a = process(prefix, keys);
    const b = process(prefix, keys);
    const first = await seedGrant(emulator, a.store, '1001', 3600_000);
    const burst = await Promise.all(Array.from({ length: 50 }, () => a.accessToken('1001')));
    expect(new Set(burst)).to.deep.equal(new Set([first.accessToken]));
    // The API rejected b's token: b refreshes, rotating the grant under a.
    const rotated: Credentials = await b.credentials('1001', { rejected: first.accessToken });
    expect(rotated.accessToken).to.not.equal(first.accessToken);
    const seen = await Promise.all(Array.from({ length: 50 }, () => a.accessToken('1001')));
    expect(new Set(seen)).to.deep.equal(new Set([rotated.accessToken]));
    await b.revoke('1001');
    const after = await Promise.allSettled(Array.from({ length: 50 }, () => a.accessToken('1001')));
    expect(after.every((r) => r.status === 'rejected' && r.reason instanceof ReauthorizationRequiredError)).to.equal(
      true,
    );
  });
});
