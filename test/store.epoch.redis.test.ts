import { expect } from 'chai';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Cluster, Redis } from 'ioredis';
import {
  RedisTokenStore,
  SAMSARA_CHANNELS,
  TokenManager,
  generateSealingKey,
  type NewCredentials,
  type ReauthorizeEvent,
  type StoreLostEvent,
} from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { until } from './support/clock.js';
import { clientOf } from './support/grants.js';
import { connect, startRedis, startRedisCluster, type RedisServer } from './support/redis.js';

const keys = generateSealingKey('kepoch');
const grant: NewCredentials = { accessToken: 'a', refreshToken: 'r', expiresAt: 1_900_000_000_000, grantId: 'g1' };

/** Every message of the store-lost channel while the test runs. */
function lossesHeard(): { messages: StoreLostEvent[]; stop(): void } {
  const messages: StoreLostEvent[] = [];
  const listener = (message: unknown): void => void messages.push(message as StoreLostEvent);
  subscribe(SAMSARA_CHANNELS.storeLost, listener);
  return { messages, stop: () => unsubscribe(SAMSARA_CHANNELS.storeLost, listener) };
}

describe('RedisTokenStore: noticing that Redis lost its memory (the epoch marker)', function () {
  this.timeout(30_000);
  let losses: ReturnType<typeof lossesHeard>;
  beforeEach(() => (losses = lossesHeard()));
  afterEach(() => losses.stop());

  describe('on a Redis without persistence', () => {
    let server: RedisServer;
    let client: Redis;
    let store: RedisTokenStore;

    beforeEach(async () => {
      server = await startRedis();
      client = connect('ioredis 5', server) as Redis;
      store = new RedisTokenStore({ client, keys, prefix: 'epoch:' });
      await store.replace('1001', grant, 10);
      await until(() => client.exists('epoch:{epoch:0}').then((n) => n === 1));
    });
    afterEach(async () => {
      await store.close();
      client.disconnect();
      await server.stop();
    });

    it('keeps one marker under its prefix, with no TTL, and reports ok while it stays', async () => {
      expect(await client.pttl('epoch:{epoch:0}')).to.equal(-1);
      expect(await store.health()).to.deep.equal({ status: 'ok', reason: '' });
      expect(await store.lost('never-connected')).to.equal(false);
      expect(losses.messages).to.deep.equal([]);
    });

    it('a restart: noticed when the connection is ready again, once, then reported by health() and by a miss', async () => {
      const before = await client.get('epoch:{epoch:0}');
      await server.kill();
      await server.restart();
      await until(() => losses.messages.length > 0, 'the loss to be noticed');
      expect(losses.messages).to.have.length(1);
      const [event] = losses.messages;
      expect(event).to.include({ orgId: '', outcome: 'lost-data', trigger: 'reconnect' });
      expect(event.message).to.include('epoch:{epoch:0}').and.include('sign in again');
      const health = await store.health();
      expect(health.status).to.equal('lost-data');
      expect(health.reason).to.include('lost its data');
      expect(health.lostAt).to.be.a('number');
      expect(await store.get('1001')).to.equal(null);
      expect(await store.lost('1001'), 'a key with no trace, after a loss').to.equal(true);
      // A new marker, so that the next loss is noticed as well.
      const after = await client.get('epoch:{epoch:0}');
      expect(after).to.be.a('string').and.not.equal(before);
      expect(losses.messages, 'health() and the miss report the same loss, without a new event').to.have.length(1);
    });

    it('a second loss is noticed as well, and a key written since is not reported lost', async () => {
      await client.flushall();
      expect((await store.health()).status).to.equal('lost-data');
      const firstLoss = (await store.health()).lostAt!;
      await store.replace('2002', grant, 10);
      await store.forget('2002', [grant]); // a tombstone: history written after the loss
      expect(await store.lost('2002')).to.equal(false);
      await client.flushall();
      expect(await store.lost('2002'), 'noticed by the miss itself').to.equal(true);
      expect(losses.messages.map((m) => m.trigger)).to.deep.equal(['health', 'miss']);
      expect((await store.health()).lostAt).to.be.at.least(firstLoss);
    });

    it('a marker another process wrote anew (it noticed first) is a loss too', async () => {
      await client.set('epoch:{epoch:0}', 'another-process-id');
      expect((await store.health()).status).to.equal('lost-data');
      expect(losses.messages).to.have.length(1);
    });

    it('reports lost-data for reportLossFor only, then ok again', async () => {
      const brief = new RedisTokenStore({ client, keys, prefix: 'epoch:', reportLossFor: 300 });
      await brief.health();
      await client.flushall();
      expect((await brief.health()).status).to.equal('lost-data');
      await until(async () => (await brief.health()).status === 'ok', 'health() to be ok again');
      expect((await brief.health()).lostAt, 'still says when').to.be.a('number');
      await brief.close();
    });

    it('answers unavailable while Redis does not answer', async () => {
      const impatient = new RedisTokenStore({ client, keys, prefix: 'epoch:', timeout: 200 });
      server.pause();
      try {
        const health = await impatient.health();
        expect(health.status).to.equal('unavailable');
        expect(health.reason).to.include('did not answer');
      } finally {
        server.resume();
        await impatient.close();
      }
    });

    it('a store started after the loss cannot tell it from a new Redis: it reports nothing', async () => {
      await client.flushall();
      const lateClient = connect('ioredis 5', server) as Redis;
      const late = new RedisTokenStore({ client: lateClient, keys, prefix: 'epoch:' });
      expect(await late.health()).to.deep.equal({ status: 'ok', reason: '' });
      await late.close();
      lateClient.disconnect();
    });
  });

  it('a restart of a persistent Redis is no loss', async () => {
    const server = await startRedis({ persistent: true });
    const client = connect('ioredis 5', server) as Redis;
    const store = new RedisTokenStore({ client, keys, prefix: 'durable:' });
    try {
      await store.replace('1001', grant, 10);
      expect((await store.health()).status).to.equal('ok');
      await server.kill();
      await server.restart();
      await until(async () => (await store.health().catch(() => undefined))?.status === 'ok', 'Redis to be back');
      expect((await store.get('1001'))?.accessToken).to.equal('a');
      expect(losses.messages).to.deep.equal([]);
    } finally {
      await store.close();
      client.disconnect();
      await server.stop();
    }
  });

  it('on a Cluster: one marker per master, each on a slot it serves; a master that lost its data is named', async () => {
    const cluster = await startRedisCluster(3);
    const client = connect('ioredis 5 Cluster', cluster) as Cluster;
    const store = new RedisTokenStore({ client, keys, prefix: 'c:' });
    try {
      expect((await store.health()).status).to.equal('ok');
      const masters = client.nodes('master');
      const markers = await Promise.all(masters.map((node) => node.keys('c:{epoch:*}')));
      expect(markers.map((found) => found.length)).to.deep.equal([1, 1, 1]);
      const [victim] = masters;
      await victim.flushall();
      expect((await store.health()).status).to.equal('lost-data');
      expect(losses.messages).to.have.length(1);
      const { port } = victim.options;
      expect(losses.messages[0].node).to.equal(`127.0.0.1:${port}`);
    } finally {
      await store.close();
      client.disconnect();
      await cluster.stop();
    }
  });

  describe('the manager, across a restart without persistence', () => {
    let server: RedisServer;
    let client: Redis;
    let emulator: SamsaraEmulator;

    beforeEach(async () => {
      server = await startRedis();
      client = connect('ioredis 5', server) as Redis;
      emulator = await startSamsaraEmulator();
    });
    afterEach(async () => {
      client.disconnect();
      await server.stop();
      await emulator.stop();
    });

    it('reports an organization it finds missing as lost-data, not no-credentials', async () => {
      const store = new RedisTokenStore({ client, keys, prefix: 'm:' });
      const tokens = new TokenManager({ store, client: clientOf(emulator) });
      const heard: ReauthorizeEvent[] = [];
      const listener = (m: unknown): void => void heard.push(m as ReauthorizeEvent);
      subscribe(SAMSARA_CHANNELS.reauthorize, listener);
      try {
        await tokens.connect('1001', { ...emulator.issueGrant('1001'), expiresAt: Date.now() + 3600_000 });
        const never = await tokens.accessToken('never-connected').catch((e: unknown) => e as Error);
        expect((never as Error).message).to.include('no Samsara credentials');
        await server.kill();
        await server.restart();
        await until(() => losses.messages.length > 0, 'the loss to be noticed');
        const err = (await tokens.accessToken('1001').then(
          () => undefined,
          (e: unknown) => e,
        )) as Error & { code: string };
        expect(err).to.include({ code: 'SAMSARA_REAUTHORIZE' });
        expect(err.message).to.include('lost its data');
        expect(heard.map((m) => [m.orgId, m.outcome])).to.deep.equal([
          ['never-connected', 'no-credentials'],
          ['1001', 'lost-data'],
        ]);
        expect(emulator.activeGrants('1001'), 'the grant is live at Samsara, held by nobody').to.equal(1);
      } finally {
        unsubscribe(SAMSARA_CHANNELS.reauthorize, listener);
        tokens.close();
        await store.close();
      }
    });

    it('a refresh in flight across the loss keeps its grant, written back as a sign-in: never revoked, never an update', async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      class HeldStore extends RedisTokenStore {
        held = false;
        override async update(...args: Parameters<RedisTokenStore['update']>): ReturnType<RedisTokenStore['update']> {
          if (this.held) await gate;
          return super.update(...args);
        }
      }
      const store = new HeldStore({ client, keys, prefix: 'm:' });
      const tokens = new TokenManager({ store, client: clientOf(emulator), cache: false });
      try {
        const issued = emulator.issueGrant('1001');
        await tokens.connect('1001', { ...issued, expiresAt: Date.now() - 1_000 });
        store.held = true;
        const issuedBefore = emulator.counters.tokensIssued;
        const refreshing = tokens.accessToken('1001');
        await until(() => emulator.counters.tokensIssued > issuedBefore, 'the refresh at Samsara');
        await server.kill();
        await server.restart();
        await until(() => losses.messages.length > 0, 'the loss to be noticed');
        release();
        const accessToken = await refreshing;
        await tokens.idle(); // the write lands behind the caller
        const stored = await store.get('1001');
        expect(stored?.accessToken).to.equal(accessToken);
        expect(emulator.grantStatus(stored!.refreshToken)).to.not.equal('revoked');
        expect(emulator.counters.revocations, 'nothing revoked').to.equal(0);
        expect(emulator.activeGrants('1001')).to.equal(1);
        expect(await store.retired('1001')).to.deep.equal([]);
      } finally {
        release();
        await tokens.idle();
        tokens.close();
        await store.close();
      }
    });
  });
});
