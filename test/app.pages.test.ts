import { expect } from 'chai';
import express from 'express';
import type { Server } from 'node:http';
import request from 'supertest';
import { MemoryTokenStore, TokenManager, type Credentials } from 'passport-samsara';
import { StoreUnavailableError } from 'passport-samsara/errors';
import { createSamsaraApp, type SamsaraAppLogEntry, type SamsaraAppOptions } from 'passport-samsara/app';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { expectNoLeak, signIn, type Agent } from './support/app-client.js';
import { closeServer, listenLocal } from './support/browser.js';

/** A memory store that can be switched off, as a Redis that stopped answering. */
class FlakyStore extends MemoryTokenStore {
  down = false;
  override async get(key: string): Promise<Credentials | null> {
    if (this.down) throw new StoreUnavailableError('the token store did not answer (test)', { retryAfter: 2 });
    return super.get(key);
  }
}

describe('the Samsara app: a page per failure, headers, cookies (supertest)', function () {
  this.timeout(20_000);
  let emulator: SamsaraEmulator;
  let store: FlakyStore;
  let tokens: TokenManager;
  let server: Server;
  let url: string;
  let agent: Agent;
  let logged: SamsaraAppLogEntry[];
  let verify: NonNullable<SamsaraAppOptions['verify']>;

  before(async () => {
    emulator = await startSamsaraEmulator({ autoApprove: true });
    store = new FlakyStore();
    // One manager for every test: with the fleet-wide limiter, the 429 with Retry-After: 30.5 below
    // would hold every later test back 30 s, as it should in production (rate-limit.*.test.ts).
    tokens = new TokenManager({ store, client: emulator, rateLimit: false });
    const app = createSamsaraApp({ tokens, log: (entry) => logged.push(entry), verify: (p, r) => verify(p, r) });
    ({ server, url } = await listenLocal(app));
  });
  after(async () => {
    await tokens.idle();
    await closeServer(server);
    await emulator.stop();
  });
  beforeEach(() => {
    logged = [];
    store.down = false;
    emulator.clearFaults();
    verify = async () => ({});
    agent = request.agent(url);
  });

  /** The failure page's class, after checking it leaks nothing. */
  function kindOf(res: request.Response, ...secrets: string[]): string | undefined {
    expectNoLeak(res.text, ...secrets);
    expect(res.headers['cache-control']).to.equal('no-store');
    return /data-kind="([a-z-]+)"/.exec(res.text)?.[1];
  }

  describe('sign-in failures', () => {
    /** Samsara's callback for this browser's pending sign-in, with an error instead of a code. */
    async function errorCallback(error: string, description: string): Promise<string> {
      const start = await agent.get('/auth/samsara').expect(302);
      const state = new URL(start.headers.location).searchParams.get('state')!;
      return `/auth/samsara/callback?${new URLSearchParams({ error, error_description: description, state }).toString()}`;
    }

    it('consent denied: 403, the denied page, a way to connect again', async () => {
      const res = await agent.get(await errorCallback('access_denied', 'The user denied')).expect(403);
      expect(kindOf(res)).to.equal('denied');
      expect(res.text).to.include('href="/auth/samsara"');
    });

    it('an error= without this browser’s state (forged, missing, replayed): 400, logged at warn, no 5xx', async () => {
      for (const query of ['error=server_error', 'error=x', 'error=server_error&state=forged', 'error=access_denied']) {
        const res = await request(url).get(`/auth/samsara/callback?${query}`).expect(400);
        expect(kindOf(res), query).to.equal('expired');
      }
      const replayed = await errorCallback('server_error', 'once');
      await agent.get(replayed).expect(502);
      await agent.get(replayed).expect(400);
      expect(logged.map((e) => [e.status, e.level])).to.deep.equal([
        [400, 'warn'],
        [400, 'warn'],
        [400, 'warn'],
        [400, 'warn'],
        [502, 'error'],
        [400, 'warn'],
      ]);
    });

    it('state forged, or missing with no sign-in pending: 400, the expired page', async () => {
      await agent.get('/auth/samsara').expect(302);
      expect(kindOf(await agent.get('/auth/samsara/callback?code=abc&state=forged').expect(400))).to.equal('expired');
      expect(kindOf(await request(url).get('/auth/samsara/callback?code=abc').expect(400))).to.equal('expired');
      expect(kindOf(await agent.get('/auth/samsara/callback?state=abc').expect(400))).to.equal('expired');
    });

    it('a replayed code: 400, the expired page', async () => {
      const start = await agent.get('/auth/samsara').expect(302);
      const approved = await fetch(start.headers.location, { redirect: 'manual' });
      const callback = new URL(approved.headers.get('location') as string);
      await agent.get(callback.pathname + callback.search).expect(303);
      const again = await agent.get(callback.pathname + callback.search).expect(400);
      expect(kindOf(again, callback.searchParams.get('code') as string)).to.equal('expired');
    });

    it('an organization the verify refuses: 403, the refused page, its grant let go, nobody signed in', async () => {
      verify = async () => false;
      const before = emulator.activeGrants('1001');
      const retired = (await store.retired('1001')).length;
      const start = await agent.get('/auth/samsara').expect(302);
      const approved = await fetch(start.headers.location, { redirect: 'manual' });
      const callback = new URL(approved.headers.get('location') as string);
      expect(kindOf(await agent.get(callback.pathname + callback.search).expect(403))).to.equal('refused');
      await tokens.idle();
      // Revoked, or (organization-wide revocation, a grant already kept) retired until Disconnect.
      const letGo = emulator.activeGrants('1001') === before || (await store.retired('1001')).length === retired + 1;
      expect(letGo).to.equal(true);
      await agent
        .get('/')
        .expect(200)
        .expect(/id="connect"/);
    });

    it('a verify that throws: 500 with a reference the log has, and not the error text', async () => {
      verify = async () => {
        throw new Error('db password=hunter2 rejected');
      };
      const start = await agent.get('/auth/samsara').expect(302);
      const approved = await fetch(start.headers.location, { redirect: 'manual' });
      const callback = new URL(approved.headers.get('location') as string);
      const res = await agent.get(callback.pathname + callback.search).expect(500);
      expect(kindOf(res, 'hunter2')).to.equal('error');
      const ref = /id="ref">([0-9a-f]+)</.exec(res.text)?.[1];
      expect(logged).to.have.length(1);
      expect(logged[0]).to.deep.include({ ref, status: 500, kind: 'error', error: 'Error' });
      expect(JSON.stringify(logged)).to.not.include('hunter2').and.not.include(callback.searchParams.get('code'));
    });

    it('an error Samsara puts on this browser’s callback: no stack, no description, one log line each', async () => {
      const forged = '\r\n{"level":"error","event":"forged"} at Object.<anonymous> (/app.js:1:1)';
      const previous = process.env.NODE_ENV;
      delete process.env.NODE_ENV; // what npm start leaves
      try {
        const res = await agent.get(await errorCallback('server_error', forged)).expect(502);
        expect(kindOf(res, 'forged')).to.equal('unavailable');
        const config = await agent.get(await errorCallback('invalid_scope', '\nforged')).expect(500);
        expect(kindOf(config, 'forged')).to.equal('error');
        const unknown = await agent.get(await errorCallback('x', '\nforged')).expect(400);
        expect(kindOf(unknown, 'forged')).to.equal('bad-request');
      } finally {
        if (previous !== undefined) process.env.NODE_ENV = previous;
      }
      const lines = logged.map((entry) => JSON.stringify(entry));
      expect(lines.join('\n').split('\n')).to.have.length(3);
      expect(lines.join('')).to.not.include('forged');
      expect(logged.map((e) => [e.code, e.level])).to.deep.equal([
        ['server_error', 'error'],
        ['invalid_scope', 'error'],
        ['x', 'warn'],
      ]);
    });
  });

  describe('signed in', () => {
    beforeEach(() => signIn(agent, '', emulator));

    it('home: Connected, the organization, since when; the grant behind <details>; Sign out and Disconnect; no token', async () => {
      const res = await agent.get('/').expect(200);
      const creds = (await store.get('1001'))!;
      expect(res.text).to.include('<p class="status" id="status">Connected</p>');
      expect(res.text).to.match(/<dd id="since"><time datetime="[^"]+" title="[^"]+">less than a second ago<\/time>/);
      expect(res.text).to.include('<strong>Charlie&#39;s Dining Services</strong>');
      const details = /<details id="details">([\s\S]*?)<\/details>/.exec(res.text)?.[1] ?? '';
      expect(details).to.include('id="region"').and.include('id="expires"').and.include('id="scopes"');
      expect(res.text).to.include('id="sign-out"').and.include(`id="disconnect" href="/disconnect"`);
      expectNoLeak(res.text, creds.accessToken, creds.refreshToken);
    });

    it('Disconnect asks first, on a page of its own that names the organization; the GET revokes nothing', async () => {
      const revocations = emulator.counters.revocations;
      const res = await agent.get('/disconnect').expect(200);
      expect(res.text).to.include('<title>Disconnect Charlie&#39;s Dining Services? · Samsara connection</title>');
      expect(res.text).to.include('for everyone at your company');
      expect(res.text).to.match(
        /<form method="post" action="\/disconnect"><button class="button danger" id="confirm-disconnect"/,
      );
      expect(res.text).to.include('id="cancel" href="/"');
      expect(emulator.counters.revocations).to.equal(revocations);
      await agent.post('/disconnect').set('origin', url).expect(303).expect('location', '/?disconnected=1');
      expect(emulator.activeGrants('1001')).to.equal(0);
      await agent.get('/disconnect').expect(303).expect('location', '/');
    });

    it('Sign out ends the session only: the grant stays live and stored, Connect is offered again', async () => {
      const creds = (await store.get('1001'))!;
      await agent.post('/sign-out').set('origin', url).expect(303).expect('location', '/?signed-out=1');
      const home = await agent.get('/?signed-out=1').expect(200);
      expect(home.text).to.include('id="signed-out"').and.include('id="connect"');
      expect(emulator.grantStatus(creds.refreshToken)).to.equal('active');
      expect((await store.get('1001'))?.refreshToken).to.equal(creds.refreshToken);
    });

    it('a cross-site Sign out: 403, still signed in', async () => {
      const res = await agent.post('/sign-out').set('origin', 'http://evil.test').set('sec-fetch-site', 'cross-site');
      expect(res.status).to.equal(403);
      expect(kindOf(res)).to.equal('cross-site');
      await agent
        .get('/')
        .expect(200)
        .expect(/id="status">Connected/);
    });

    it('a vehicle with no name or other fields shows its id and dashes, never a blank row', async () => {
      const page = {
        data: [{ id: '281474977075805' }, { id: '7', name: '', year: 2021, make: 'Ford' }],
        pagination: { endCursor: '', hasNextPage: false },
      };
      emulator.injectFault('api', {
        type: 'status',
        status: 200,
        body: JSON.stringify(page),
        contentType: 'application/json',
      });
      const res = await agent.get('/vehicles').expect(200);
      const rows = [...res.text.matchAll(/<tr>(.*?)<\/tr>/g)].slice(1).map((m) => m[1]);
      expect(rows[0]).to.include('<code>281474977075805</code>');
      expect(rows[0].match(/—/g)).to.have.length(4);
      expect(rows[1]).to.include('<code>7</code>').and.include('<td>Ford</td>').and.include('>2021</td>');
    });

    it('reauthorization required (the grant was revoked at Samsara): 401, the reauthorize page', async () => {
      const creds = (await store.get('1001'))!;
      const basic = Buffer.from(`${emulator.clientID}:${emulator.clientSecret}`).toString('base64');
      await fetch(`${emulator.baseURL}/oauth2/revoke`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: creds.refreshToken }),
      });
      emulator.expireAccessTokens('1001');
      await store.update('1001', { ...creds, expiresAt: Date.now() - 1000 }, creds.version);
      const res = await agent.get('/').expect(401);
      expect(kindOf(res)).to.equal('reauthorize');
      expect(res.headers['www-authenticate']).to.include('invalid_token');
      expect(res.text).to.include('href="/auth/samsara"');
    });

    it('Samsara unreachable or failing: 502, the unavailable page with Try again', async () => {
      emulator.injectFault('api', { type: 'status', status: 503, body: 'upstream down', contentType: 'text/plain' });
      const res = await agent.get('/vehicles').expect(502);
      expect(kindOf(res, 'upstream down')).to.equal('unavailable');
      expect(res.text).to.include('href="/vehicles"');
      emulator.injectFault('api', { type: 'drop' });
      expect(kindOf(await agent.get('/vehicles').expect(502))).to.equal('unavailable');
    });

    it('rate limited past the wait: 429 with Retry-After, the rate-limited page', async () => {
      emulator.injectFault('api', {
        type: 'status',
        status: 429,
        body: '{"message":"slow down"}',
        headers: { 'retry-after': '30.5' },
      });
      const res = await agent.get('/vehicles').expect(429);
      expect(kindOf(res)).to.equal('rate-limited');
      expect(res.headers['retry-after']).to.equal('31');
      expect(res.text).to.include('<strong id="retry-after">31</strong>');
    });

    it('token store down: 503 with Retry-After, the store-down page; JSON for a client that asks', async () => {
      store.down = true;
      const res = await agent.get('/').expect(503);
      expect(kindOf(res)).to.equal('store-down');
      expect(res.headers['retry-after']).to.equal('2');
      const json = await agent.get('/vehicles').set('accept', 'application/json').expect(503);
      expect(json.body.error.code).to.equal('SAMSARA_STORE_UNAVAILABLE');
      expect(json.body.error.message).to.not.include('test');
      expect(logged.map((e) => e.kind)).to.deep.equal(['store-down', 'store-down']);
    });

    it('Disconnect whose revoke fails: 502, the revoke-failed page; signed out, the grant kept', async () => {
      emulator.injectFault('revoke', { type: 'status', status: 500 }, 5);
      const res = await agent.post('/disconnect').set('origin', url).expect(502);
      expect(kindOf(res)).to.equal('revoke-failed');
      expect(await store.get('1001')).to.not.equal(null);
      await agent
        .get('/')
        .expect(200)
        .expect(/id="connect"/);
    });

    it('a cross-site Disconnect: 403, the cross-site page, nothing revoked', async () => {
      const revocations = emulator.counters.revocations;
      const res = await agent.post('/disconnect').set('origin', 'http://evil.test').set('sec-fetch-site', 'cross-site');
      expect(res.status).to.equal(403);
      expect(kindOf(res)).to.equal('cross-site');
      expect(emulator.counters.revocations).to.equal(revocations);
    });

    it('a page address that is not valid: 400; an expired cursor: 400', async () => {
      expect(kindOf(await agent.get('/vehicles?after=%3Cscript%3E&page=2').expect(400))).to.equal('bad-request');
      expect(kindOf(await agent.get('/vehicles?page=2').expect(400))).to.equal('bad-request');
      expect(kindOf(await agent.get('/vehicles?after=bm9wZQ&page=2').expect(400))).to.equal('bad-request');
    });

    it('vehicles: a count, Next carrying the cursor, and an empty state', async () => {
      const first = await agent.get('/vehicles').expect(200);
      expect(first.text).to.include('<p id="count">50 vehicles on this page.</p>');
      const next = /id="next" rel="next" href="([^"]+)"/.exec(first.text)![1].replace(/&#38;/g, '&');
      const second = await agent.get(next).expect(200);
      expect(second.text).to.include('Vehicles 51–100 (page 2)').and.include('id="back"');
    });
  });

  it('an empty fleet: the empty state', async () => {
    const empty = await startSamsaraEmulator({
      autoApprove: true,
      organizations: [{ id: '7', name: 'Empty Co', vehicleCount: 0 }],
    });
    const app = createSamsaraApp({ tokens: new TokenManager({ client: empty }), log: () => undefined });
    const { server: s, url: u } = await listenLocal(app);
    try {
      const client = request.agent(u);
      await signIn(client, '', empty);
      const res = await client.get('/vehicles').expect(200);
      expect(res.text).to.include('id="empty"').and.include('no vehicles');
    } finally {
      await closeServer(s);
      await empty.stop();
    }
  });

  it('not found: 404 on its own, with no reference and no log line; mounted, other paths stay the host’s', async () => {
    const notFound = await agent.get('/nowhere').expect(404);
    expect(kindOf(notFound)).to.equal('not-found');
    expect(notFound.text).to.not.include('Reference').and.not.include('id="ref"');
    expect((await agent.get('/nowhere').set('accept', 'application/json').expect(404)).body.error).to.not.have.property(
      'ref',
    );
    expect(logged).to.deep.equal([]);
    const host = express();
    host.use('/samsara', createSamsaraApp({ tokens, log: () => undefined }));
    host.get('/samsara/extra', (_req, res) => {
      res.send('the host');
    });
    await request(host).get('/samsara/extra').expect(200, 'the host');
  });

  it('/favicon.ico answers (an SVG icon, cached), and every page links it', async () => {
    const icon = await agent.get('/favicon.ico').expect(200);
    expect(icon.headers['content-type']).to.include('image/svg+xml');
    expect(icon.headers['cache-control']).to.include('max-age');
    expect((await agent.get('/').expect(200)).text).to.include('<link rel="icon" href="/favicon.ico"');
  });

  it('security headers from helmet on every answer, frame-ancestors included', async () => {
    for (const path of ['/', '/nowhere', '/healthz', '/auth/samsara/callback?error=access_denied']) {
      const res = await agent.get(path);
      const csp = res.headers['content-security-policy'];
      expect(csp, path)
        .to.include("frame-ancestors 'self'")
        .and.include("script-src 'none'")
        .and.include("style-src 'self'");
      expect(csp).to.not.include('upgrade-insecure-requests');
      expect(res.headers).to.include({
        'x-frame-options': 'SAMEORIGIN',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      expect(res.headers).to.not.have.property('x-powered-by');
    }
    const css = await agent.get('/app.css').expect(200);
    expect(css.headers['content-type']).to.include('text/css');
  });

  it('the session cookie: HttpOnly, SameSite=Lax, Path=/, Secure behind HTTPS only', async () => {
    const plain = await agent.get('/auth/samsara').expect(302);
    const cookie = (plain.headers['set-cookie'] as unknown as string[])[0];
    expect(cookie)
      .to.match(/^samsara\.sid=/)
      .and.include('HttpOnly')
      .and.include('SameSite=Lax')
      .and.include('Path=/');
    expect(cookie).to.not.include('Secure');
    const host = express();
    host.set('trust proxy', 'loopback');
    host.use('/', createSamsaraApp({ tokens, log: () => undefined }));
    const proxied = await request(host).get('/auth/samsara').set('x-forwarded-proto', 'https').expect(302);
    expect((proxied.headers['set-cookie'] as unknown as string[])[0]).to.include('Secure');
  });
});
