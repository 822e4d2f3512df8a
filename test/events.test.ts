import { expect } from 'chai';
import type { Cluster, Redis } from 'ioredis';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  MemoryTokenStore,
  OAuthClient,
  ReauthorizationRequiredError,
  RedisTokenStore,
  SAMSARA_CHANNELS,
  TokenManager,
  generateSealingKey,
  type SamsaraEvent,
} from 'passport-samsara';
import { StoreUnavailableError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf, seedGrant } from './support/grants.js';
import { connect, startRedis, type RedisServer } from './support/redis.js';

type Seen = SamsaraEvent & { channel: string };

/** Records every message on every channel of the package until `stop()`. */
function record(): { seen: Seen[]; on(channel: string): Seen[]; stop(): void } {
  const seen: Seen[] = [];
  const listeners = Object.values(SAMSARA_CHANNELS).map((channel) => {
    const listener = (message: unknown): void => void seen.push({ channel, ...(message as SamsaraEvent) });
    subscribe(channel, listener);
    return [channel, listener] as const;
  });
  return {
    seen,
    on: (channel) => seen.filter((m) => m.channel === channel),
    stop: () => listeners.forEach(([channel, listener]) => unsubscribe(channel, listener)),
  };
}

/** Every message names the organization, an outcome and a duration, and carries none of `secrets`. */
function wellFormed(seen: Seen[], secrets: string[]): void {
  for (const message of seen) {
    expect(message.orgId, message.channel).to.be.a('string');
    expect(message.outcome, message.channel).to.be.a('string').and.not.equal('');
    expect(message.durationMs, message.channel).to.be.a('number').and.at.least(0);
    const text = JSON.stringify(message);
    for (const secret of secrets) expect(text).to.not.include(secret);
  }
}

describe('events on node:diagnostics_channel', function () {
  this.timeout(30_000);
  let emulator: SamsaraEmulator;
  let events: ReturnType<typeof record>;

  beforeEach(async () => {
    emulator = await startSamsaraEmulator();
    events = record();
  });
  afterEach(async () => {
    events.stop();
    await emulator.stop();
  });

  describe('a fleet storm: 4 managers (one Redis client each) x 100 callers for an expired token', () => {
    let redis: RedisServer;
    let clients: (Redis | Cluster)[];

    beforeEach(async () => {
      redis = await startRedis();
      clients = [1, 2, 3, 4].map(() => connect('ioredis 5', redis));
    });
    afterEach(async () => {
      clients.forEach((client) => client.disconnect());
      await redis.stop();
    });

    it('publishes exactly one refresh, the others adopt it, and no message carries a token', async () => {
      const keys = generateSealingKey('ev');
      const stores = clients.map((client) => new RedisTokenStore({ client, keys, prefix: 'events:' }));
      const managers = stores.map((store) => new TokenManager({ store, client: clientOf(emulator) }));
      const old = await seedGrant(emulator, stores[0]);
      const results = await Promise.all(
        managers.flatMap((manager) => Array.from({ length: 100 }, () => manager.accessToken('1001'))),
      );
      const stored = (await stores[0].get('1001'))!;
      expect(new Set(results)).to.deep.equal(new Set([stored.accessToken]));
      expect(emulator.counters.grants.refresh_token).to.equal(1);

      const refresh = events.on(SAMSARA_CHANNELS.refresh);
      expect(refresh.filter((m) => m.outcome === 'refreshed')).to.have.length(1);
      expect(refresh.filter((m) => m.outcome === 'started')).to.have.length(1);
      expect(refresh.filter((m) => m.outcome === 'failed')).to.have.length(0);
      // One flight per process: the three that did not refresh adopted the one that did.
      expect(refresh.filter((m) => m.outcome === 'adopted').length).to.be.within(1, 3);
      expect(refresh.every((m) => m.orgId === '1001' && m.region === 'us')).to.equal(true);
      expect(events.on(SAMSARA_CHANNELS.lockWait).every((m) => m.outcome === 'changed')).to.equal(true);
      wellFormed(events.seen, [old.accessToken, old.refreshToken, stored.accessToken, stored.refreshToken]);
      await Promise.all(stores.map((store) => store.close()));
    });
  });

  describe('one process', () => {
    let store: MemoryTokenStore;
    let tokens: TokenManager;

    beforeEach(() => {
      store = new MemoryTokenStore();
      tokens = new TokenManager({
        store,
        client: new OAuthClient({ ...clientOf(emulator), timeout: 1_000 }),
        retryDelay: 10,
      });
    });

    it('a dead grant: one failed refresh and one reauthorization for 50 callers, then no-credentials per call', async () => {
      const seeded = await seedGrant(emulator, store);
      await new OAuthClient(clientOf(emulator)).revoke(seeded.refreshToken);
      const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => tokens.accessToken('1001')));
      expect(
        outcomes.every((o) => o.status === 'rejected' && o.reason instanceof ReauthorizationRequiredError),
      ).to.equal(true);
      expect(events.on(SAMSARA_CHANNELS.refresh).map((m) => [m.outcome, m.code])).to.deep.equal([
        ['started', undefined],
        ['failed', 'SAMSARA_REAUTHORIZE'],
      ]);
      expect(events.on(SAMSARA_CHANNELS.reauthorize).map((m) => [m.orgId, m.outcome, m.code])).to.deep.equal([
        ['1001', 'grant-dead', 'SAMSARA_REAUTHORIZE'],
      ]);
      await tokens.accessToken('1001').catch(() => undefined);
      expect(events.on(SAMSARA_CHANNELS.reauthorize).map((m) => m.outcome)).to.deep.equal([
        'grant-dead',
        'no-credentials',
      ]);
      wellFormed(events.seen, [seeded.accessToken, seeded.refreshToken]);
    });

    it('a token endpoint down while the old token still works: served-old, with the reason', async () => {
      const seeded = await seedGrant(emulator, store, '1001', 30_000); // inside the skew, not expired
      emulator.injectFault('token', { type: 'status', status: 503, body: 'down' }, 3);
      expect(await tokens.accessToken('1001')).to.equal(seeded.accessToken);
      expect(events.on(SAMSARA_CHANNELS.refresh).map((m) => [m.outcome, m.code])).to.deep.equal([
        ['started', undefined],
        ['served-old', 'SAMSARA_UPSTREAM'],
      ]);
    });

    it('Disconnect: one revoke event per grant, with its reason and grant id', async () => {
      const first = await seedGrant(emulator, store, '1001', 3600_000);
      const second = await seedGrant(emulator, store, '1001', 3600_000); // a second sign-in: the first is retired
      await tokens.revoke('1001');
      expect(
        events.on(SAMSARA_CHANNELS.revoke).map((m) => [m.outcome, (m as unknown as { reason: string }).reason]),
      ).to.deep.equal([
        ['revoked', 'disconnect'],
        ['revoked', 'disconnect'],
      ]);
      const grantIds = events.on(SAMSARA_CHANNELS.revoke).map((m) => (m as unknown as { grantId: string }).grantId);
      expect(new Set(grantIds)).to.deep.equal(new Set([first.grantId, second.grantId]));
      wellFormed(events.seen, [first.accessToken, first.refreshToken, second.accessToken, second.refreshToken]);
    });

    it('a failing store: a store-failure event naming the operation, and StoreUnavailableError', async () => {
      store.get = async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
      };
      expect(await tokens.accessToken('1001').catch((e: unknown) => e)).to.be.instanceOf(StoreUnavailableError);
      const [failure] = events.on(SAMSARA_CHANNELS.storeFailure);
      expect(failure).to.include({ orgId: '1001', outcome: 'read', code: 'SAMSARA_STORE_UNAVAILABLE' });
      expect(failure).to.have.property('message').that.includes('ECONNREFUSED');
    });

    it('a fresh token publishes nothing', async () => {
      await seedGrant(emulator, store, '1001', 3600_000);
      await Promise.all(Array.from({ length: 20 }, () => tokens.accessToken('1001')));
      expect(events.seen).to.deep.equal([]);
    });
  });
});
