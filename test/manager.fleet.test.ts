import { expect } from 'chai';
import type { Cluster, Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { PostgresTokenStore, RedisTokenStore, generateSealingKey, type Credentials } from 'passport-samsara';
import type { Pool } from 'pg';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { startWorker, type FleetWorker } from './support/fleet.js';
import type { Outcome, WorkerConfig } from './support/fleet-worker.js';
import { seedGrant } from './support/grants.js';
import { SHARED, dropSchema, pool, testSchema } from './support/postgres.js';
import { connect, startRedis, startRedisCluster, type RedisCluster, type RedisServer } from './support/redis.js';

const tokensOf = (outcomes: Outcome[]): string[] =>
  outcomes.map((o) => ('token' in o ? o.token : `error: ${o.error.code ?? o.error.name}: ${o.error.message}`));

async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('TokenManager across a fleet: forked processes, one shared store (Redis or Postgres), the emulator', function () {
  this.timeout(60_000);

  const targets: Array<[string, () => Promise<RedisServer | RedisCluster>]> = [
    ['a redis-server', () => startRedis()],
    ['a 3-node Redis Cluster', () => startRedisCluster(3)],
  ];
  for (const [name, start] of targets) {
    describe(`on ${name}`, () => {
      let emulator: SamsaraEmulator;
      let redis: RedisServer | RedisCluster;
      let client: Redis | Cluster;
      let store: RedisTokenStore;
      let config: WorkerConfig;
      let workers: FleetWorker[] = [];

      before(async () => {
        emulator = await startSamsaraEmulator();
        redis = await start();
        client = connect('nodes' in redis ? 'ioredis 5 Cluster' : 'ioredis 5', redis);
        const keys = generateSealingKey('fleet');
        const prefix = `fleet-${randomUUID().slice(0, 8)}:`;
        store = new RedisTokenStore({ client, keys, prefix });
        config = {
          redis: 'nodes' in redis ? { cluster: redis.nodes } : { host: redis.host, port: redis.port },
          prefix,
          keys,
          emulator: { clientID: emulator.clientID, clientSecret: emulator.clientSecret, baseURL: emulator.baseURL },
          timeout: 2_000,
          lockTtl: 5_000,
        };
        workers = await Promise.all([1, 2, 3, 4].map(() => startWorker(config)));
      });
      after(async () => {
        await Promise.all(workers.map((w) => w.stop()));
        await store.close();
        client.disconnect();
        await redis.stop();
        await emulator.stop();
      });

      for (const round of [1, 2, 3]) {
        it(`round ${round}: 4 processes x 100 concurrent requests for an expired token make exactly 1 refresh, 0 invalid_grant, and all get the new token`, async () => {
          const old = await seedGrant(emulator, store);
          emulator.resetCounters();
          const outcomes = (await Promise.all(workers.map((w) => w.burst('1001', 100)))).flat();
          const stored = (await store.get('1001')) as Credentials;
          expect(stored.accessToken).to.not.equal(old.accessToken);
          expect(new Set(tokensOf(outcomes))).to.deep.equal(new Set([stored.accessToken]));
          expect(outcomes).to.have.length(400);
          expect(emulator.counters.grants.refresh_token).to.equal(1);
          expect(emulator.counters.invalidGrant).to.equal(0);
          expect(emulator.grantStatus(stored.refreshToken)).to.equal('active');
        });
      }
    });
  }

  describe('on Postgres', () => {
    let emulator: SamsaraEmulator;
    let db: Pool;
    let store: PostgresTokenStore;
    let schema: string;
    let workers: FleetWorker[] = [];

    before(async () => {
      emulator = await startSamsaraEmulator();
      schema = testSchema('fleet');
      db = pool();
      const keys = generateSealingKey('fleet');
      store = new PostgresTokenStore({ pool: db, keys, schema });
      await store.migrate();
      const config: WorkerConfig = {
        redis: null,
        postgres: { config: { ...SHARED, max: 10 }, schema },
        prefix: '',
        keys,
        emulator: { clientID: emulator.clientID, clientSecret: emulator.clientSecret, baseURL: emulator.baseURL },
        timeout: 2_000,
        lockTtl: 5_000,
      };
      workers = await Promise.all([1, 2, 3, 4].map(() => startWorker(config)));
    });
    after(async () => {
      await Promise.all(workers.map((w) => w.stop()));
      await store.close();
      await db.end();
      await dropSchema(schema);
      await emulator.stop();
    });

    for (const round of [1, 2]) {
      it(`round ${round}: 4 processes x 250 concurrent callers for an expired token make exactly 1 refresh, 0 failed, and the grant stays alive`, async () => {
        const old = await seedGrant(emulator, store);
        emulator.resetCounters();
        const outcomes = (await Promise.all(workers.map((w) => w.burst('1001', 250)))).flat();
        const stored = (await store.get('1001')) as Credentials;
        expect(stored.accessToken).to.not.equal(old.accessToken);
        expect(outcomes.filter((o) => 'error' in o)).to.deep.equal([]);
        expect(new Set(tokensOf(outcomes))).to.deep.equal(new Set([stored.accessToken]));
        expect(outcomes).to.have.length(1000);
        expect(emulator.counters.grants.refresh_token).to.equal(1);
        expect(emulator.counters.invalidGrant).to.equal(0);
        expect(emulator.grantStatus(stored.refreshToken)).to.equal('active');
      });
    }
  });

  describe('when a process dies or stalls', () => {
    let emulator: SamsaraEmulator;
    let redis: RedisServer;
    let client: Redis;
    let store: RedisTokenStore;
    let config: WorkerConfig;
    const started: FleetWorker[] = [];
    const worker = async (extra: Partial<WorkerConfig> = {}): Promise<FleetWorker> => {
      const w = await startWorker({ ...config, ...extra });
      started.push(w);
      return w;
    };

    beforeEach(async () => {
      emulator = await startSamsaraEmulator();
      redis = await startRedis();
      client = connect('ioredis 5', redis) as Redis;
      const keys = generateSealingKey('crash');
      store = new RedisTokenStore({ client, keys, prefix: 'crash:' });
      config = {
        redis: { host: redis.host, port: redis.port },
        prefix: 'crash:',
        keys,
        emulator: { clientID: emulator.clientID, clientSecret: emulator.clientSecret, baseURL: emulator.baseURL },
        timeout: 500,
        lockTtl: 2_000,
      };
    });
    afterEach(async () => {
      await Promise.all(started.splice(0).map((w) => w.stop()));
      await store.close();
      client.disconnect();
      await redis.stop();
      await emulator.stop();
    });

    it('a lock holder SIGKILLed before the token endpoint answered: another process refreshes within lock ttl + 1 s', async () => {
      const [a, b] = await Promise.all([worker(), worker()]);
      await seedGrant(emulator, store);
      emulator.injectFault('token', { type: 'hang' });
      void a.burst('1001', 5).catch(() => undefined);
      await until(() => emulator.counters.grants.refresh_token === 1, 'the holder to reach the token endpoint');
      await a.stop();
      const killedAt = Date.now();
      const outcomes = await b.burst('1001', 20);
      const elapsed = Date.now() - killedAt;
      const stored = (await store.get('1001')) as Credentials;
      expect(new Set(tokensOf(outcomes))).to.deep.equal(new Set([stored.accessToken]));
      expect(elapsed).to.be.below(config.lockTtl + 1_000);
      expect(emulator.counters.grants.refresh_token).to.equal(2);
      expect(emulator.counters.invalidGrant).to.equal(0);
    });

    it('a late writer under strict rotation: the other process finds the grant "dead", yet the late writer\'s rotated tokens land', async () => {
      const late = await worker({ pauseBeforeUpdate: true });
      const prompt = await worker();
      const seeded = await seedGrant(emulator, store);
      const paused = late.paused();
      const lateResult = late.burst('1001', 1);
      await paused;
      // The late writer holds the only live refresh token; the prompt one presents the rotated one.
      const [promptOutcome] = await prompt.burst('1001', 1);
      expect(promptOutcome).to.have.nested.property('error.code', 'SAMSARA_REAUTHORIZE');
      expect(await store.get('1001')).to.equal(null);

      late.resume();
      const [lateOutcome] = await lateResult;
      const stored = (await store.get('1001')) as Credentials;
      expect(stored.refreshToken).to.not.equal(seeded.refreshToken);
      expect(tokensOf([lateOutcome])).to.deep.equal([stored.accessToken]);
      expect(emulator.grantStatus(stored.refreshToken)).to.equal('active');
      expect(emulator.counters.revocations).to.equal(0);
      // and the fleet goes on with it
      expect(tokensOf(await prompt.burst('1001', 3))).to.deep.equal([
        stored.accessToken,
        stored.accessToken,
        stored.accessToken,
      ]);
    });

    it('a late writer (paused past its lock ttl after refreshing) cannot overwrite the newer credentials', async () => {
      // Samsara may keep a rotated refresh token alive for a moment; with that grace both refreshes succeed.
      emulator.configure({ refreshTokenReuseGrace: 60_000 });
      const late = await worker({ pauseBeforeUpdate: true });
      const prompt = await worker();
      await seedGrant(emulator, store);
      const paused = late.paused();
      const lateResult = late.burst('1001', 1);
      await paused;
      const [promptOutcome] = await prompt.burst('1001', 1);
      const newer = (await store.get('1001')) as Credentials;
      expect(tokensOf([promptOutcome])).to.deep.equal([newer.accessToken]);

      late.resume();
      const [lateOutcome] = await lateResult;
      expect(await store.get('1001')).to.deep.equal(newer);
      // Its caller was served the tokens Samsara gave it before the write lost: they work (the grace).
      const [lateToken] = tokensOf([lateOutcome]);
      expect(lateToken).to.not.equal(newer.accessToken);
      const me = await fetch(`${emulator.baseURL}/me`, { headers: { authorization: `Bearer ${lateToken}` } });
      await me.body?.cancel();
      expect(me.status).to.equal(200);
      expect(tokensOf(await late.burst('1001', 1))).to.deep.equal([newer.accessToken]);
      expect(emulator.counters.grants.refresh_token).to.equal(2);
    });
  });
});
