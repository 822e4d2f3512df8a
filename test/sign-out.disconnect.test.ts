import { expect } from 'chai';
import session from 'express-session';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import {
  MemoryTokenStore,
  TokenManager,
  samsaraDisconnect,
  samsaraErrorHandler,
  samsaraLogout,
  samsaraSignOut,
  type TokenStore,
} from 'passport-samsara';
import { StoreUnavailableError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { EXPRESSES } from './support/expresses.js';
import { clientOf } from './support/grants.js';

declare module 'express-session' {
  interface SessionData {
    org?: string;
  }
}

for (const { name, express } of EXPRESSES)
  describe(`samsaraSignOut and samsaraDisconnect, which only the app itself can trigger (${name})`, () => {
    let emulator: SamsaraEmulator;
    let store: MemoryTokenStore;
    let tokens: TokenManager;
    let server: Server;
    let url: string;

    /** An app whose sign-in is `POST /login` (the session remembers organization 1001). */
    async function startApp(tokenStore: TokenStore = store): Promise<void> {
      tokens = new TokenManager({ store: tokenStore, client: { ...clientOf(emulator), timeout: 1_000 } });
      const app = express();
      app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
      app.post('/login', (req, res) => {
        req.session.org = '1001';
        res.sendStatus(204);
      });
      app.get('/whoami', (req, res) => {
        res.json({ org: req.session.org ?? null });
      });
      const trustedOrigins = ['https://admin.example.com'];
      app.post('/disconnect', samsaraDisconnect({ tokens, key: (req) => req.session.org, trustedOrigins }));
      app.post('/sign-out', samsaraSignOut({ trustedOrigins }));
      // The deprecated name, still the same handler.
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      app.post('/logout', samsaraLogout({ tokens, key: (req) => req.session.org, trustedOrigins }));
      app.use(samsaraErrorHandler());
      server = await new Promise((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }

    /** Organization 1001 connected twice: the first grant retired, the second current. */
    async function connectTwice(): Promise<[string, string]> {
      const first = emulator.issueGrant('1001');
      const second = emulator.issueGrant('1001');
      for (const grant of [first, second]) {
        await tokens.connect('1001', { ...grant, expiresAt: Date.now() + 3600_000 });
      }
      return [first.refreshToken, second.refreshToken];
    }

    async function signedIn(): Promise<ReturnType<typeof request.agent>> {
      const agent = request.agent(url);
      await agent.post('/login').expect(204);
      return agent;
    }

    beforeEach(async () => {
      emulator = await startSamsaraEmulator({ revocation: 'grant' });
      store = new MemoryTokenStore();
    });
    afterEach(async () => {
      server?.closeAllConnections();
      await new Promise((r) => server?.close(r));
      await emulator.stop();
    });

    it("from the app's own page: revokes every grant the app holds, forgets them, destroys the session, clears the cookie", async () => {
      await startApp();
      const refreshTokens = await connectTwice();
      const agent = await signedIn();
      const res = await agent.post('/disconnect').set('sec-fetch-site', 'same-origin').expect(204);
      expect(res.headers['set-cookie']?.[0]).to.match(/^connect\.sid=;.*Expires=Thu, 01 Jan 1970/);
      for (const token of refreshTokens) expect(emulator.grantStatus(token)).to.equal('revoked');
      expect(await store.get('1001')).to.equal(null);
      expect(await store.retired('1001')).to.deep.equal([]);
      expect((await agent.get('/whoami')).body.org).to.equal(null);
    });

    const refused: Array<[string, Record<string, string>]> = [
      ['another site (Fetch Metadata)', { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }],
      ['another port of the same host (same-site)', { 'sec-fetch-site': 'same-site', origin: 'http://127.0.0.1:1' }],
      ['a sibling subdomain (same-site)', { 'sec-fetch-site': 'same-site', origin: 'https://evil.app.example.com' }],
      ['a browser that typed the URL in (none)', { 'sec-fetch-site': 'none' }],
      ['another origin, without Fetch Metadata', { origin: 'http://localhost:1' }],
      ['an opaque origin, without Fetch Metadata', { origin: 'null' }],
      ['another page by its Referer alone', { referer: 'https://evil.example/attack.html' }],
      ['no origin evidence at all', {}],
    ];
    for (const [what, headers] of refused) {
      for (const route of ['/disconnect', '/sign-out']) {
        it(`${route}: refuses a request from ${what} with 403, and changes nothing`, async () => {
          await startApp();
          const [first, second] = await connectTwice();
          const agent = await signedIn();
          const res = await agent.post(route).set(headers).set('accept', 'application/json').expect(403);
          expect(res.body.error.code).to.equal('SAMSARA_CROSS_SITE');
          expect(res.headers['set-cookie']).to.equal(undefined);
          expect(emulator.counters.revocations).to.equal(0);
          expect(emulator.grantStatus(first)).to.equal('active');
          expect(emulator.grantStatus(second)).to.equal('active');
          expect((await agent.get('/whoami')).body.org, 'still signed in').to.equal('1001');
        });
      }
    }

    const accepted: Array<[string, (url: string) => Record<string, string>]> = [
      ['its own Origin, without Fetch Metadata', (own) => ({ origin: own })],
      ['its own Referer, without Fetch Metadata or Origin', (own) => ({ referer: `${own}/settings?tab=2` })],
      ['a trusted origin', () => ({ 'sec-fetch-site': 'cross-site', origin: 'https://admin.example.com' })],
    ];
    for (const [what, headersOf] of accepted) {
      it(`accepts a request from ${what}`, async () => {
        await startApp();
        await connectTwice();
        const agent = await signedIn();
        await agent.post('/disconnect').set(headersOf(url)).expect(204);
        expect(emulator.activeGrants('1001')).to.equal(0);
      });
    }

    it('sign-out ends the session only: the grants stay live and connected, for the colleagues and the jobs', async () => {
      await startApp();
      const [retired, current] = await connectTwice();
      const agent = await signedIn();
      const res = await agent.post('/sign-out').set('sec-fetch-site', 'same-origin').expect(204);
      expect(res.headers['set-cookie']?.[0]).to.match(/^connect\.sid=;.*Expires=Thu, 01 Jan 1970/);
      expect((await agent.get('/whoami')).body.org).to.equal(null);
      expect(emulator.counters.revocations).to.equal(0);
      expect(emulator.grantStatus(current)).to.equal('active');
      expect(emulator.grantStatus(retired)).to.equal('active');
      expect((await store.get('1001'))?.refreshToken).to.equal(current);
      expect(await tokens.accessToken('1001')).to.be.a('string');
    });

    it('the deprecated samsaraLogout still disconnects, as samsaraDisconnect does', async () => {
      await startApp();
      await connectTwice();
      const agent = await signedIn();
      await agent.post('/logout').set('sec-fetch-site', 'same-origin').expect(204);
      expect(emulator.activeGrants('1001')).to.equal(0);
    });

    it('clears nothing when the request brought no session', async () => {
      await startApp();
      const [, current] = await connectTwice();
      for (const route of ['/disconnect', '/sign-out']) {
        const res = await request(url).post(route).set('sec-fetch-site', 'same-origin').expect(204);
        expect(res.headers['set-cookie'], route).to.equal(undefined);
      }
      expect(emulator.grantStatus(current)).to.equal('active');
    });

    it('does not sign out when the token store is down: the session keeps its key for a retry', async () => {
      // Reads work, locks fail: the store went down between two requests.
      const down = new (class extends MemoryTokenStore {
        override async lock(): Promise<never> {
          throw new StoreUnavailableError('Redis did not answer within 500 ms.');
        }
      })();
      store = down;
      await startApp(down);
      await connectTwice();
      const agent = await signedIn();
      const res = await agent
        .post('/disconnect')
        .set('sec-fetch-site', 'same-origin')
        .set('accept', 'application/json')
        .expect(503);
      expect(res.headers['set-cookie']).to.equal(undefined);
      expect(res.body.error.message).to.not.include('Redis');
      expect(await down.get('1001')).to.not.equal(null);
      expect(emulator.counters.revocations).to.equal(0);
      expect((await agent.get('/whoami')).body.org).to.equal('1001');
    });
  });
