import { expect } from 'chai';
import fc from 'fast-check';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { PostgresTokenStore, RedisRateLimiter, TokenManager, generateSealingKey } from 'passport-samsara';
import {
  MemoryRateLimiter,
  PostgresRateLimiter,
  RateLimits,
  type RateLimiterBackend,
} from 'passport-samsara/rate-limit';
import { startSamsaraEmulator } from 'passport-samsara/testing';
import type { Pool } from 'pg';
import { clientOf } from './support/grants.js';
import { dropSchema, pool, testSchema } from './support/postgres.js';

// One behavioural suite for every backend of the fleet's limiter: memory, the shared Redis (a
// prefix of this run's own) and the shared Postgres (a schema of this run's own). Each backend
// makes two limiters on two connections of their own (as two processes have), sharing one store.

interface Backend {
  name: string;
  /** Two limiters on separate connections, sharing their buckets. */
  pair(): [RateLimiterBackend, RateLimiterBackend];
  after(): Promise<void>;
}

function memory(): Backend {
  return {
    name: 'memory',
    pair: () => {
      const one = new MemoryRateLimiter();
      return [one, one];
    },
    after: () => Promise.resolve(),
  };
}

function redis(): Backend {
  const clients = [new Redis({ host: '127.0.0.1', port: 6379 }), new Redis({ host: '127.0.0.1', port: 6379 })];
  const prefix = `rlb-${randomUUID()}:`;
  return {
    name: 'Redis',
    pair: () => [
      new RedisRateLimiter({ client: clients[0], prefix }),
      new RedisRateLimiter({ client: clients[1], prefix }),
    ],
    after: async () => {
      const stale = await clients[0].keys(`${prefix}*`);
      if (stale.length > 0) await clients[0].del(...stale);
      for (const client of clients) client.disconnect();
    },
  };
}

function postgres(): Backend {
  const schema = testSchema('rl');
  const pools: Pool[] = [pool({ max: 4 }), pool({ max: 4 })];
  return {
    name: 'Postgres',
    pair: () => [
      new PostgresRateLimiter({ pool: pools[0], schema }),
      new PostgresRateLimiter({ pool: pools[1], schema }),
    ],
    after: async () => {
      await Promise.all(pools.map((p) => p.end()));
      await dropSchema(schema);
    },
  };
}

// One a minute on the endpoint, with utilization 1: an interval of 60 s, so that the time the
// calls themselves take (ms) is nothing beside it.
const endpoints = [{ methods: ['GET'], path: '/fleet/vehicles', limit: 1, periodMs: 60_000 }];
const limits = new RateLimits({ utilization: 1, endpoints });
const vehicles = limits.bucketsOf('GET', '/fleet/vehicles');
const me = limits.bucketsOf('GET', '/me');

for (const make of [memory, redis, postgres]) {
  describe(`the limiter's backend contract: ${make.name}`, function () {
    this.timeout(30_000);
    let backend: Backend;
    let a: RateLimiterBackend;
    let b: RateLimiterBackend;
    before(() => {
      backend = make();
      [a, b] = backend.pair();
    });
    after(() => backend.after());
    const org = () => `org-${randomUUID()}`;

    it("reserves across an organization's buckets, refuses past the bound without reserving, and slows them all down", async () => {
      const id = org();
      expect((await a.reserve(id, vehicles, 1_000)).waitMs).to.equal(0);
      const second = await b.reserve(id, vehicles, 120_000);
      expect(second.granted, "the other connection sees the first's reservation").to.equal(true);
      expect(second.waitMs, 'one interval after the first').to.be.within(59_000, 60_000);
      const third = await a.reserve(id, vehicles, 60_000);
      expect(third, 'past the bound: refused').to.include({ granted: false });
      expect(third.waitMs).to.be.within(119_000, 120_000);
      const fourth = await b.reserve(id, vehicles, 200_000);
      expect(fourth.waitMs, 'the refusal reserved nothing').to.be.within(119_000, 120_000);
      const other = org();
      expect((await a.reserve(other, vehicles, 0)).granted, 'another organization has its own buckets').to.equal(true);
      await b.slowDown(other, vehicles.slice(0, 1), 300_000);
      const slowed = await a.reserve(other, me, 0);
      expect(slowed.granted, "the organization's bucket slowed down holds its every endpoint").to.equal(false);
      expect(slowed.waitMs).to.be.within(299_000, 300_000);
      await a.slowDown(id, vehicles, 1_000);
      expect((await b.reserve(id, vehicles, 0)).waitMs, 'a shorter slow-down moves no TAT back').to.be.above(170_000);
    });

    it('gives two connections reserving at once one slot each, an interval apart: never two in one', async () => {
      const id = org();
      const all = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).reserve(id, vehicles, 10_000_000)),
      );
      const waits = all.map((r) => r.waitMs).sort((x, y) => x - y);
      expect(all.every((r) => r.granted)).to.equal(true);
      // Each wait is its slot less the moment it was asked: an interval apart, give or take the
      // calls' own spread (on Postgres, a statement's clock is read before it waits for the row).
      waits.slice(1).forEach((wait, i) => expect(wait - waits[i]).to.be.within(59_000, 61_000));
    });

    it('keeps any sequence of reservations evenly spaced: no window of the period holds more than the limit', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 12 }), async (picks) => {
          const id = org();
          const slots: number[] = [];
          for (const pick of picks) {
            const started = Date.now();
            const { granted, waitMs } = await (pick % 2 ? a : b).reserve(id, pick < 2 ? vehicles : me, 10_000_000);
            expect(granted).to.equal(true);
            if (pick < 2) slots.push(started + waitMs);
          }
          slots.sort((x, y) => x - y);
          // A slot may come as early as the call's own latency before its predecessor's interval ends.
          slots.slice(1).forEach((slot, i) => expect(slot - slots[i]).to.be.above(59_000));
        }),
        { numRuns: 15 },
      );
    });
  });
}

describe('PostgresRateLimiter: idle rows', function () {
  this.timeout(30_000);
  const schema = testSchema('rls');
  const db = pool();
  after(async () => {
    await db.end();
    await dropSchema(schema);
  });

  it("deletes an organization's row once it is idle, from another reservation, and keeps a busy one", async () => {
    const limiter = new PostgresRateLimiter({ pool: db, schema, sweepEvery: 0 });
    await limiter.reserve('idle', vehicles, 0);
    await limiter.reserve('busy', vehicles, 0);
    // Time passing for 'idle' only: its latest TAT 20 s ago, past the 10 s a row stays.
    await db.query(`UPDATE "${schema}".rate_limits SET until = until - 80000 WHERE org = 'samsara:idle'`);
    await limiter.reserve('other', me, 0);
    let orgs: string[] = [];
    for (let i = 0; i < 50; i++) {
      const { rows } = await db.query<{ org: string }>(`SELECT org FROM "${schema}".rate_limits ORDER BY org`);
      orgs = rows.map((r) => r.org);
      if (!orgs.includes('samsara:idle')) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(orgs).to.deep.equal(['samsara:busy', 'samsara:other']);
  });
});

describe('PostgresRateLimiter beside a PostgresTokenStore', function () {
  this.timeout(30_000);
  const schema = testSchema('rlm');
  const db = pool();
  after(async () => {
    await db.end();
    await dropSchema(schema);
  });

  it("is the manager's limiter for a PostgresTokenStore, in its schema: three managers stay within 25/s, no 429", async () => {
    const emulator = await startSamsaraEmulator({ organizations: [{ id: '1001', name: 'Acme', vehicleCount: 5 }] });
    const keys = generateSealingKey();
    const stores = Array.from({ length: 3 }, () => new PostgresTokenStore({ pool: db, keys, schema }));
    try {
      const fleet = stores.map((store) => new TokenManager({ store, client: clientOf(emulator) }));
      expect(fleet[0].rateLimiter?.backend).to.be.instanceOf(PostgresRateLimiter);
      const grant = emulator.issueGrant('1001');
      await fleet[0].connect('1001', { ...grant, expiresAt: Date.now() + 3_600_000 });
      emulator.resetCounters();
      const list = (tokens: TokenManager) =>
        tokens.forOrg('1001', { maxRateLimitWait: 10_000 }).fetch(`${emulator.baseURL}/fleet/vehicles?limit=1`);
      const statuses = await Promise.all(
        fleet.flatMap((tokens) => Array.from({ length: 20 }, async () => (await list(tokens)).status)),
      );
      expect(statuses).to.deep.equal(Array(60).fill(200));
      expect(emulator.counters.rateLimited, "the emulator's 429s").to.equal(0);
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM "${schema}".rate_limits`);
      expect(rows[0].n, "one row for the organization, in the store's schema").to.equal(1);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await emulator.stop();
    }
  });
});
