import { expect } from 'chai';
import express from 'express';
import session from 'express-session';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Passport } from 'passport';
import request from 'supertest';
import {
  MemoryTokenStore,
  SamsaraStrategy,
  TokenManager,
  samsara,
  samsaraErrorHandler,
  type OrganizationStatus,
} from 'passport-samsara';
import { ConfigurationError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { syncOrganizations } from '../example/sync.js';

/**
 * One app, two OAuth apps: Samsara's US and EU clouds each have their own client id. Two
 * emulators play the two regions (each one's baseURL stands for its region's base URL), each
 * knowing only its own client, so a grant sent to the wrong region fails there.
 */
describe('US and EU organizations in one app: a client per region', function () {
  this.timeout(30_000);
  let us: SamsaraEmulator;
  let eu: SamsaraEmulator;
  let store: MemoryTokenStore;
  let tokens: TokenManager;
  let server: Server;
  let url: string;

  beforeEach(async () => {
    us = await startSamsaraEmulator({
      clients: [{ clientId: 'us-app', clientSecret: 'us-secret' }],
      organizations: [{ id: '1001', name: 'Dallas Freight', vehicleCount: 130 }],
      autoApprove: '1001',
    });
    eu = await startSamsaraEmulator({
      clients: [{ clientId: 'eu-app', clientSecret: 'eu-secret' }],
      organizations: [{ id: '2002', name: 'Lyon Transports', vehicleCount: 240 }],
      autoApprove: '2002',
    });
    store = new MemoryTokenStore();
    tokens = new TokenManager({
      store,
      clients: {
        us: { clientID: 'us-app', clientSecret: 'us-secret', baseURL: us.baseURL },
        eu: { clientID: 'eu-app', clientSecret: 'eu-secret', baseURL: eu.baseURL },
      },
    });
    // What the README shows: one strategy per region, each with its name and callback.
    const passport = new Passport();
    passport.use(new SamsaraStrategy({ tokens }));
    passport.use(
      new SamsaraStrategy({ tokens, region: 'eu', name: 'samsara-eu', callbackURL: '/auth/samsara-eu/callback' }),
    );
    passport.serializeUser((user, done) => done(null, user));
    passport.deserializeUser((user: Express.User, done) => done(null, user));
    const app = express();
    app.use(session({ secret: 'test', resave: false, saveUninitialized: false }));
    app.use(passport.initialize());
    app.use(passport.session());
    app.use(samsara({ tokens }));
    for (const name of ['samsara', 'samsara-eu']) {
      app.get(`/auth/${name}`, passport.authenticate(name));
      app.get(`/auth/${name}/callback`, passport.authenticate(name, { keepSessionInfo: true }), (req, res) => {
        res.json({ user: req.user });
      });
    }
    app.get('/me', async (req, res, next) => {
      try {
        const response = await req.samsara.fetch('/me');
        res.status(response.status).json(await response.json());
      } catch (err) {
        next(err);
      }
    });
    app.use(samsaraErrorHandler());
    server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await us.stop();
    await eu.stop();
  });

  /** A browser's sign-in through the named strategy; the agent keeps its session. */
  async function signIn(
    name: string,
  ): Promise<{ agent: ReturnType<typeof request.agent>; authorizeURL: URL; user: unknown }> {
    const agent = request.agent(url);
    const start = await agent.get(`/auth/${name}`).expect(302);
    const authorizeURL = new URL(start.headers.location);
    const consent = await fetch(authorizeURL, { redirect: 'manual' });
    const callback = new URL(consent.headers.get('location')!);
    const done = await agent.get(callback.pathname + callback.search).expect(200);
    return { agent, authorizeURL, user: done.body.user };
  }

  async function listed(): Promise<OrganizationStatus[]> {
    const all: OrganizationStatus[] = [];
    for await (const org of tokens.organizations()) all.push(org);
    return all.sort((a, b) => a.orgId.localeCompare(b.orgId));
  }

  it('signs a US and an EU organization in, each at its own region with its own app, and the grants remember which', async () => {
    const usSignIn = await signIn('samsara');
    const euSignIn = await signIn('samsara-eu');
    expect(usSignIn.authorizeURL.origin).to.equal(us.baseURL);
    expect(usSignIn.authorizeURL.searchParams.get('client_id')).to.equal('us-app');
    expect(euSignIn.authorizeURL.origin).to.equal(eu.baseURL);
    expect(euSignIn.authorizeURL.searchParams.get('client_id')).to.equal('eu-app');
    expect(usSignIn.user).to.deep.equal({ orgId: '1001', orgName: 'Dallas Freight' });
    expect(euSignIn.user).to.deep.equal({ orgId: '2002', orgName: 'Lyon Transports' });
    expect(await store.get('1001')).to.include({ region: 'us', clientID: 'us-app' });
    expect(await store.get('2002')).to.include({ region: 'eu', clientID: 'eu-app' });
    expect((await listed()).map(({ orgId, region, clientID }) => ({ orgId, region, clientID }))).to.deep.equal([
      { orgId: '1001', region: 'us', clientID: 'us-app' },
      { orgId: '2002', region: 'eu', clientID: 'eu-app' },
    ]);

    // req.samsara.fetch goes to each organization's own region.
    expect((await usSignIn.agent.get('/me').expect(200)).body.data.name).to.equal('Dallas Freight');
    expect((await euSignIn.agent.get('/me').expect(200)).body.data.name).to.equal('Lyon Transports');
  });

  it("routes each organization's refresh, API calls and revoke to its own region", async () => {
    await signIn('samsara');
    await signIn('samsara-eu');
    us.expireAccessTokens();
    eu.expireAccessTokens();
    const [usToken, euToken] = await Promise.all([
      tokens.accessToken('1001', { rejected: (await store.get('1001'))!.accessToken }),
      tokens.accessToken('2002', { rejected: (await store.get('2002'))!.accessToken }),
    ]);
    expect(us.grantId(usToken)).to.not.equal(undefined);
    expect(eu.grantId(euToken)).to.not.equal(undefined);
    expect([us.counters.grants.refresh_token, eu.counters.grants.refresh_token]).to.deep.equal([1, 1]);
    expect(
      us.counters.invalidClient + eu.counters.invalidClient + us.counters.invalidGrant + eu.counters.invalidGrant,
    ).to.equal(0);

    await tokens.revoke('2002');
    expect([us.counters.revocations, eu.counters.revocations]).to.deep.equal([0, 1]);
    expect(eu.activeGrants('2002')).to.equal(0);
    expect(us.activeGrants('1001')).to.equal(1);
  });

  it('the sync job serves both regions through the official SDK', async () => {
    await signIn('samsara');
    await signIn('samsara-eu');
    us.resetCounters();
    eu.resetCounters();
    const synced: string[] = [];
    const summary = await syncOrganizations(tokens, { log: (line) => synced.push(line) });
    expect(summary).to.deep.include({ organizations: 2, synced: 2, vehicles: 130 + 240, disconnected: [], failed: [] });
    expect(synced.sort()).to.deep.equal(['✓ 1001 (us): 130 vehicles', '✓ 2002 (eu): 240 vehicles']);
    expect(us.counters.apiCalls).to.equal(2); // 100 + 30
    expect(eu.counters.apiCalls).to.equal(3); // 100 + 100 + 40
  });

  it('refuses a grant of a region the manager has no app for, before storing or sending anything', async () => {
    const usOnly = new TokenManager({
      store,
      clients: { us: { clientID: 'us-app', clientSecret: 'us-secret', baseURL: us.baseURL } },
    });
    const grant = eu.issueGrant('2002');
    const err = await usOnly
      .connect('2002', {
        accessToken: grant.accessToken,
        refreshToken: grant.refreshToken,
        expiresAt: Date.now() + 60_000,
        region: 'eu',
      })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ConfigurationError).with.property('code', 'SAMSARA_CONFIG');
    expect((err as Error).message)
      .to.match(/region "eu"/)
      .and.not.include(grant.refreshToken);
    expect(await store.get('2002')).to.equal(null);
    expect(() => new SamsaraStrategy({ tokens: usOnly, region: 'eu' })).to.throw(ConfigurationError, /region "eu"/);
  });

  it("refuses a clients entry that is another region's app, and client with clients", () => {
    expect(() => new TokenManager({ clients: { eu: { clientID: 'x', clientSecret: 'y', region: 'us' } } })).to.throw(
      ConfigurationError,
      /clients\.eu/,
    );
    expect(() => new TokenManager({ client: { clientID: 'x', clientSecret: 'y' }, clients: {} })).to.throw(
      ConfigurationError,
      /not both/,
    );
    expect(() => new TokenManager({ clients: {} })).to.throw(ConfigurationError, /no region/);
  });
});
