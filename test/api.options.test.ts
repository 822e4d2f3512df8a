import { expect } from 'chai';
import request from 'supertest';
import { MemoryTokenStore, OAuthClient, TokenManager, samsara } from 'passport-samsara';
import { ConfigurationError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { relay, startApiApp } from './support/api-app.js';
import { clientOf, seedGrant } from './support/grants.js';

describe('API calls: the maxRateLimitWait option', () => {
  const tokens = new TokenManager({
    client: { clientID: 'client', clientSecret: 'secret', baseURL: 'http://127.0.0.1:9' },
  });

  for (const bad of [NaN, -1, -0.5, Infinity, -Infinity, '100' as unknown as number]) {
    it(`refuses ${String(bad)} when the middleware is made, naming the option`, () => {
      expect(() => samsara({ tokens, maxRateLimitWait: bad }))
        .to.throw(ConfigurationError, /maxRateLimitWait/)
        .with.property('code', 'SAMSARA_CONFIG');
    });
  }

  for (const good of [0, 0.5, 50, 60_000, undefined]) {
    it(`takes ${String(good)}`, () => {
      expect(() => samsara({ tokens, maxRateLimitWait: good })).to.not.throw();
    });
  }

  describe('at 0', () => {
    let emulator: SamsaraEmulator;
    let app: { url: string; close(): Promise<void> };
    beforeEach(async () => {
      emulator = await startSamsaraEmulator();
      const store = new MemoryTokenStore();
      await seedGrant(emulator, store, '1001', 3600_000);
      app = await startApiApp({
        tokens: new TokenManager({ store, client: new OAuthClient({ ...clientOf(emulator), timeout: 2_000 }) }),
        maxRateLimitWait: 0,
        route: async (req, res) => relay(res, await req.samsara.fetch('/fleet/vehicles?limit=1')),
      });
    });
    afterEach(async () => {
      await app.close();
      await emulator.stop();
    });

    it('never waits: the first 429 is RateLimitedError', async () => {
      emulator.injectFault('api', {
        type: 'status',
        status: 429,
        body: '{"message":"slow down"}',
        contentType: 'application/json',
        headers: { 'retry-after': '0.2' },
      });
      const res = await request(app.url).get('/call').set('accept', 'application/json').expect(429);
      expect(res.body.error.code).to.equal('SAMSARA_RATE_LIMITED');
      expect(res.headers['retry-after']).to.equal('1');
      expect(emulator.counters.apiCalls).to.equal(1);
    });

    it('still refreshes and resends after a 401', async () => {
      emulator.expireAccessTokens('1001');
      await request(app.url).get('/call').expect(200);
      expect(emulator.counters.apiCalls).to.equal(2);
    });
  });
});
