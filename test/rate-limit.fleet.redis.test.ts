import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import {
  MemoryTokenStore,
  RedisRateLimiter,
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
} from 'passport-samsara';
import { MemoryRateLimiter, RateLimits } from 'passport-samsara/rate-limit';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf } from './support/grants.js';
import { connect, startRedis, startRedisCluster, type RedisCluster, type RedisServer } from './support/redis.js';

// The fleet-wide limiter on a real Redis: several managers, each with its own connection (as
// separate processes have), share each organization's buckets, so together they stay within the
// emulator's limits, and a 429 one of them sees slows all of them.

describe('the fleet-wide rate limiter: several managers on one Redis, against the emulator', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  let emulator: SamsaraEmulator;
  let clients: Redis[] = [];
  const keys = generateSealingKey();

  before(async () => {
    redis = await startRedis();
    emulator = await startSamsaraEmulator({ organizations: [{ id: '1001', name: 'Acme', vehicleCount: 5 }] });
  });
  after(async () => {
    await emulator.stop();
    await redis.stop();
  });
  afterEach(() => {
    for (const client of clients) client.disconnect();
    clients = [];
  });

  /** `count` managers on one Redis prefix, each with a connection of its own, sharing one grant. */
  async function managers(count: number, rateLimit?: false): Promise<TokenManager[]> {
    const prefix = `rl-${randomUUID()}:`;
    const made = Array.from({ length: count }, () => {
      const client = connect('ioredis 5', redis) as Redis;
      clients.push(client);
      const store = new RedisTokenStore({ client, keys, prefix });
      return new TokenManager({ store, client: clientOf(emulator), ...(rateLimit === false && { rateLimit }) });
    });
    const grant = emulator.issueGrant('1001');
    await made[0].connect('1001', { ...grant, expiresAt: Date.now() + 3_600_000 });
    return made;
  }

  /** One call through the SDK's fetch of `forOrg`: the status it answered (429 for a rate limit, Samsara's or its own). */
  const list = async (tokens: TokenManager, maxRateLimitWait: number, path = '/fleet/vehicles?limit=1') =>
    (await tokens.forOrg('1001', { maxRateLimitWait }).fetch(`${emulator.baseURL}${path}`)).status;

  /** Every manager lists vehicles `each` times, all at once; the statuses answered. */
  async function burst(fleet: TokenManager[], each: number, maxRateLimitWait = 0): Promise<number[]> {
    return Promise.all(fleet.flatMap((tokens) => Array.from({ length: each }, () => list(tokens, maxRateLimitWait))));
  }

  it('keeps three managers together within 25 requests a second to GET /fleet/vehicles: no 429 sent', async () => {
    const fleet = await managers(3);
    emulator.resetCounters();
    const statuses = await burst(fleet, 20, 10_000);
    expect(statuses).to.deep.equal(Array(60).fill(200));
    expect(emulator.counters.rateLimited, "the emulator's 429s").to.equal(0);
    expect(emulator.counters.apiCalls).to.equal(60);
  });

  it('without it (rateLimit: false), the same burst meets 429s: the test above can fail', async () => {
    const fleet = await managers(3, false);
    expect(fleet[0].rateLimiter).to.equal(undefined);
    emulator.resetCounters();
    const statuses = await burst(fleet, 20);
    expect(statuses.filter((s) => s === 429).length).to.be.above(0);
    expect(emulator.counters.rateLimitedBy.endpoint).to.be.above(0);
  });

  it('a 429 that one manager meets slows the organization down for the others', async () => {
    const [a, b] = await managers(2);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // earlier tests' windows empty
    emulator.resetCounters();
    emulator.injectFault('api', { type: 'status', status: 429, headers: { 'retry-after': '3' } });
    // a waits out the 429 in the shared buckets; it gives up at once since 3 s is past its bound.
    expect(await list(a, 1_000, '/fleet/vehicles')).to.equal(429);
    expect(emulator.counters.rateLimited, "the injected 429 is a fault, not the emulator's limit").to.equal(0);
    const turn = await b.rateLimiter?.reserve('1001', 'GET', '/fleet/vehicles', 0);
    expect(turn?.granted, "b's turn comes after the 429's Retry-After").to.equal(false);
    expect(turn?.waitMs).to.be.within(2_000, 3_000);
    const other = await b.rateLimiter?.reserve('1001', 'GET', '/me', 0);
    expect(other?.granted, 'the organization bucket too: another app spent its budget').to.equal(false);
  });

  it("lets a request go unpaced when the limiter's Redis hangs past timeoutMs (SIGSTOP), as when it fails", async () => {
    const limiterRedis = await startRedis();
    const client = connect('ioredis 5', limiterRedis) as Redis;
    clients.push(client);
    try {
      const [onStore] = await managers(1);
      const tokens = new TokenManager({
        store: onStore.store,
        client: clientOf(emulator),
        rateLimit: { backend: new RedisRateLimiter({ client }), timeoutMs: 300 },
      });
      expect(await list(tokens, 5_000), 'paced while its Redis answers').to.equal(200);
      limiterRedis.pause();
      const started = performance.now();
      expect(await list(tokens, 5_000), 'sent unpaced once the limiter is late').to.equal(200);
      expect(performance.now() - started).to.be.within(250, 2_500);
      expect(() => new TokenManager({ client: clientOf(emulator), rateLimit: { timeoutMs: 0 } })).to.throw(/timeoutMs/);
    } finally {
      limiterRedis.resume();
      await limiterRedis.stop();
    }
  });

  it("uses the token store's Redis for a RedisTokenStore, memory otherwise, and refuses bad limits", async () => {
    const [onRedis] = await managers(1);
    expect(onRedis.rateLimiter?.backend).to.be.instanceOf(RedisRateLimiter);
    const inMemory = new TokenManager({ store: new MemoryTokenStore(), client: clientOf(emulator) });
    expect(inMemory.rateLimiter?.backend).to.be.instanceOf(MemoryRateLimiter);
    const client = clientOf(emulator);
    expect(() => new TokenManager({ client, rateLimit: { utilization: 1.5 } })).to.throw(/utilization/);
    expect(() => new TokenManager({ client, rateLimit: { perOrganization: 0 } })).to.throw(/perOrganization/);
    const path = { methods: ['GET'], path: 'fleet/{id', limit: 1 };
    expect(() => new TokenManager({ client, rateLimit: { endpoints: [path] } })).to.throw(/is not a path/);
  });
});

describe('RedisRateLimiter on a 3-node Redis Cluster: one organization, one slot', function () {
  this.timeout(60_000);
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startRedisCluster(3);
  });
  after(() => cluster.stop());

  it("reserves across an organization's buckets in one script call, and slows them all down", async () => {
    const client = connect('ioredis 5 Cluster', cluster);
    try {
      const limiter = new RedisRateLimiter({ client, prefix: `rl-${randomUUID()}:` });
      // One a minute: the time between two calls is nothing beside it.
      const endpoints = [{ methods: ['GET'], path: '/fleet/vehicles', limit: 1, periodMs: 60_000 }];
      const buckets = new RateLimits({ utilization: 1, endpoints }).bucketsOf('GET', '/fleet/vehicles');
      expect((await limiter.reserve('1001', buckets, 1_000)).waitMs).to.equal(0);
      const second = await limiter.reserve('1001', buckets, 120_000);
      expect(second.granted).to.equal(true);
      expect(second.waitMs, 'one interval after the first').to.be.within(50_000, 60_000);
      const third = await limiter.reserve('1001', buckets, 60_000);
      expect(third, 'past the bound: refused, nothing reserved').to.include({ granted: false });
      expect(third.waitMs).to.be.within(110_000, 120_000);
      await limiter.slowDown('1002', buckets.slice(0, 1), 300_000);
      const other = await limiter.reserve('1002', buckets, 0);
      expect(other.granted, "the organization's bucket slowed down holds its every endpoint").to.equal(false);
      expect(other.waitMs).to.be.within(290_000, 300_000);
    } finally {
      client.disconnect();
    }
  });
});

describe('the rate limits: endpoint classes and pacing (memory backend)', () => {
  it('puts each request in the organization bucket and its endpoint class, paced evenly', async () => {
    let now = 0;
    const tokens = new TokenManager({
      client: { clientID: 'id', clientSecret: 'secret' },
      rateLimit: { backend: new MemoryRateLimiter(() => now), utilization: 1 },
    });
    const limiter = tokens.rateLimiter!;
    expect(limiter.limits.bucketsOf('GET', '/fleet/vehicles/').map((b) => b.name)).to.deep.equal([
      'organization',
      'GET /fleet/vehicles',
    ]);
    expect(limiter.limits.bucketsOf('get', '/fleet/vehicles/123')[1].name).to.equal('GET /fleet/vehicles/{id}');
    expect(limiter.limits.bucketsOf('PATCH', '/webhooks/9')[1]).to.deep.equal({
      name: 'webhooks-write',
      intervalMs: 600,
    });
    expect(limiter.limits.bucketsOf('GET', '/me')).to.have.length(1);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) waits.push((await limiter.reserve('1001', 'GET', '/fleet/vehicles', 1_000)).waitMs);
    expect(waits).to.deep.equal([0, 40, 80, 120]);
    expect((await limiter.reserve('2002', 'GET', '/fleet/vehicles', 0)).waitMs, 'another organization').to.equal(0);
    expect(await limiter.reserve('1001', 'GET', '/fleet/vehicles', 100)).to.deep.equal({ granted: false, waitMs: 160 });
    now = 1_000;
    expect(await limiter.reserve('1001', 'GET', '/fleet/vehicles', 0)).to.deep.equal({ granted: true, waitMs: 0 });
  });
});
