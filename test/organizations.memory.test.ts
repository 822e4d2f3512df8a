import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  MemoryTokenStore,
  OAuthClient,
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  type NewCredentials,
  type TokenStore,
} from 'passport-samsara';
import { StoreUnavailableError } from 'passport-samsara/errors';
import { connect, startRedis, type RedisServer } from './support/redis.js';

// Memory, not time: listing 100,000 organizations must not hold them all. The live heap (after a
// full GC) is sampled while the listing runs; holding every status would cost about 20 MB here
// (an id, a grant id and an object each), streaming costs a page of them.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const ORGS = 100_000;
/** The most the live heap may grow while listing: well below what holding every status would take. */
const BOUND = 4 * 1024 * 1024;

const grant = (n: number): NewCredentials => ({
  accessToken: `access-${n}`,
  refreshToken: `refresh-${n}`,
  expiresAt: 1_900_000_000_000 + n,
  grantId: `g${n}`,
  region: 'us',
  clientID: 'app',
});

/** Lists every organization through a manager, sampling the live heap; returns the count and the peak growth. */
async function measure(store: TokenStore): Promise<{ count: number; growth: number }> {
  const tokens = new TokenManager({ store, client: new OAuthClient({ clientID: 'app', clientSecret: 'secret' }) });
  gc();
  const base = process.memoryUsage().heapUsed;
  let peak = 0;
  let count = 0;
  for await (const _org of tokens.organizations()) {
    if (++count % 5_000 === 0) {
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed - base);
    }
  }
  return { count, growth: peak };
}

describe('tokens.organizations() stays bounded in memory for 100,000 organizations', function () {
  this.timeout(180_000);

  it('on MemoryTokenStore: its own map, walked in place', async () => {
    const store = new MemoryTokenStore();
    for (let n = 0; n < ORGS; n++) await store.replace(`org-${n}`, grant(n), 10);
    const { count, growth } = await measure(store);
    console.log(
      `      memory store: ${count} organizations listed, live heap +${growth} bytes (${(growth / count).toFixed(1)} bytes per organization)`,
    );
    expect(count).to.equal(ORGS);
    expect(growth).to.be.below(BOUND);
  });

  describe('on RedisTokenStore', () => {
    let redis: RedisServer;
    let client: Redis;
    let store: RedisTokenStore;

    before(async () => {
      redis = await startRedis();
      client = connect('ioredis 5', redis) as Redis;
      store = new RedisTokenStore({ client, keys: generateSealingKey('mem'), prefix: 'mem:' });
      for (let n = 0; n < ORGS; n += 2_000) {
        await Promise.all(Array.from({ length: 2_000 }, (_, i) => store.replace(`org-${n + i}`, grant(n + i), 10)));
      }
    });
    after(async () => {
      await store.close();
      client.disconnect();
      await redis.stop();
    });

    it('SCANs page by page: the live heap grows by a page, not by the organization count', async () => {
      const { count, growth } = await measure(store);
      console.log(
        `      redis store: ${count} organizations listed, live heap +${growth} bytes (${(growth / count).toFixed(1)} bytes per organization)`,
      );
      expect(count).to.equal(ORGS);
      expect(growth).to.be.below(BOUND);
    });

    it('what the bound rules out: holding every status of the listing costs far more than it', async () => {
      gc();
      const base = process.memoryUsage().heapUsed;
      const held = [];
      for await (const org of store.list()) held.push(org);
      gc();
      const growth = process.memoryUsage().heapUsed - base;
      console.log(
        `      holding them all instead: +${growth} bytes (${(growth / held.length).toFixed(1)} bytes per organization)`,
      );
      expect(held).to.have.length(ORGS);
      expect(growth).to.be.above(BOUND);
    });

    it('a Redis that stops answering during a listing is StoreUnavailableError', async () => {
      const tokens = new TokenManager({ store, client: new OAuthClient({ clientID: 'app', clientSecret: 'secret' }) });
      const listing = tokens.organizations();
      await listing.next();
      redis.pause();
      try {
        let failure: unknown;
        try {
          for (;;) if ((await listing.next()).done) break;
        } catch (err) {
          failure = err;
        }
        expect(failure).to.be.instanceOf(StoreUnavailableError);
      } finally {
        redis.resume();
      }
    });
  });
});
