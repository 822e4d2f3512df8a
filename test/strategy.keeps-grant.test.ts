import { expect } from 'chai';
import type { Request } from 'express';
import sinon from 'sinon';
import {
  MemoryTokenStore,
  SamsaraStrategy,
  TokenManager,
  type SamsaraProfile,
  type SamsaraStrategyOptions,
  type SamsaraTokenParams,
  type VerifyDone,
} from 'passport-samsara';
import { StoreUnavailableError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { signInThrough, startApp, type TestApp } from './support/app.js';
import { clientOf } from './support/grants.js';

/** A way to build a strategy whose verify accepts the organization and never calls connect. */
type Make = (tokens: TokenManager) => SamsaraStrategy;

const FORMS: Array<[string, Make]> = [
  ['the default verify', (tokens) => new SamsaraStrategy({ tokens })],
  [
    'the verify option, async',
    (tokens) => new SamsaraStrategy({ tokens, verify: async ({ profile }) => ({ orgId: profile.id }) }),
  ],
  [
    'the verify option, a plain value, a user without orgId',
    (tokens) => new SamsaraStrategy({ tokens, verify: ({ profile }) => ({ name: profile.displayName }) }),
  ],
  ['(accessToken, refreshToken, profile)', (tokens) => new SamsaraStrategy({ tokens }, async () => ({ id: 'u' }))],
  [
    '(accessToken, refreshToken, profile, done)',
    (tokens) =>
      new SamsaraStrategy({ tokens }, (_at: string, _rt: string, profile: SamsaraProfile, done: VerifyDone) =>
        done(null, { orgId: profile.id }),
      ),
  ],
  [
    '(accessToken, refreshToken, params, profile, done) calling done',
    (tokens) =>
      new SamsaraStrategy(
        { tokens },
        (_at: string, _rt: string, _params: SamsaraTokenParams, profile: SamsaraProfile, done: VerifyDone) =>
          done(null, { orgId: profile.id }),
      ),
  ],
  [
    '(accessToken, refreshToken, params, profile, done) returning',
    (tokens) =>
      new SamsaraStrategy(
        { tokens },
        async (_at: string, _rt: string, _params: SamsaraTokenParams, profile: SamsaraProfile, _done: VerifyDone) => ({
          orgId: profile.id,
        }),
      ),
  ],
  [
    '(req, accessToken, refreshToken, profile)',
    (tokens) =>
      new SamsaraStrategy(
        { tokens, passReqToCallback: true },
        async (_req: Request, _at: string, _rt: string, profile: SamsaraProfile) => ({ orgId: profile.id }),
      ),
  ],
  [
    '(req, accessToken, refreshToken, profile, done)',
    (tokens) =>
      new SamsaraStrategy(
        { tokens, passReqToCallback: true },
        (_req: Request, _at: string, _rt: string, profile: SamsaraProfile, done: VerifyDone) =>
          done(null, { orgId: profile.id }),
      ),
  ],
  [
    '(req, accessToken, refreshToken, params, profile, done)',
    (tokens) =>
      new SamsaraStrategy(
        { tokens, passReqToCallback: true },
        (
          _req: Request,
          _at: string,
          _rt: string,
          _params: SamsaraTokenParams,
          profile: SamsaraProfile,
          done: VerifyDone,
        ) => done(null, { orgId: profile.id }),
      ),
  ],
];

describe('SamsaraStrategy keeps the grant itself: no verify form can sign in without it', () => {
  let emulator: SamsaraEmulator;
  let app: TestApp | undefined;

  beforeEach(async () => {
    emulator = await startSamsaraEmulator({ autoApprove: true, revocation: 'organization' });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await emulator.stop();
  });

  /** Grants live at Samsara that the store holds neither as current nor as retired. */
  async function orphans(store: MemoryTokenStore, orgId: string): Promise<number> {
    const held = [await store.get(orgId), ...(await store.retired(orgId))].flatMap((g) => (g ? [g.refreshToken] : []));
    const heldLive = held.filter((token) => emulator.grantStatus(token) === 'active').length;
    return emulator.activeGrants(orgId) - heldLive;
  }

  for (const [form, make] of FORMS) {
    it(`${form}: three laps of sign-in, each grant kept, the app served, 0 orphaned grants; Disconnect ends all`, async () => {
      const store = new MemoryTokenStore();
      const tokens = new TokenManager({ store, client: clientOf(emulator) });
      app = await startApp(make(tokens));
      for (let lap = 1; lap <= 3; lap++) {
        expect((await signInThrough(app)).status, `lap ${lap}`).to.equal(200);
        const current = (await store.get('1001'))!;
        expect(emulator.grantStatus(current.refreshToken), `lap ${lap}: the new grant is the current one`).to.equal(
          'active',
        );
        // The next Samsara call works: no redirect to Connect, no new lap.
        const me = await fetch(`${emulator.baseURL}/me`, {
          headers: { authorization: `Bearer ${await tokens.accessToken('1001')}` },
        });
        expect(me.status, `lap ${lap}: the app can call Samsara`).to.equal(200);
        expect(await orphans(store, '1001'), `lap ${lap}: orphaned grants`).to.equal(0);
      }
      expect(emulator.activeGrants('1001'), 'three live grants, all held').to.equal(3);
      await tokens.revoke('1001');
      expect(emulator.activeGrants('1001')).to.equal(0);
    });
  }

  it('a verify that connects the grant itself works, and the grant is written once', async () => {
    const store = new MemoryTokenStore();
    const replace = sinon.spy(store, 'replace');
    const tokens = new TokenManager({ store, client: clientOf(emulator) });
    app = await startApp(
      new SamsaraStrategy(
        { tokens },
        async (_at: string, _rt: string, params: SamsaraTokenParams, profile: SamsaraProfile, _done: VerifyDone) => {
          await tokens.connect(profile.id, params);
          return { orgId: profile.id };
        },
      ),
    );
    expect((await signInThrough(app)).status).to.equal(200);
    expect(replace.callCount).to.equal(1);
    expect(await orphans(store, '1001')).to.equal(0);
  });

  it('a verify that starts connect without awaiting it: one write still, no grant retired or revoked', async () => {
    emulator.configure({ revocation: 'grant' });
    const store = new MemoryTokenStore();
    const replace = sinon.spy(store, 'replace');
    const tokens = new TokenManager({ store, client: clientOf(emulator), revocation: 'grant' });
    app = await startApp(
      new SamsaraStrategy({
        tokens,
        verify: ({ profile, params }) => {
          void tokens.connect(profile.id, params);
          return { orgId: profile.id };
        },
      }),
    );
    expect((await signInThrough(app)).status).to.equal(200);
    await tokens.idle();
    expect(replace.callCount).to.equal(1);
    expect(await store.retired('1001')).to.deep.equal([]);
    expect(emulator.grantStatus((await store.get('1001'))!.refreshToken)).to.equal('active');
  });

  it('refuses a user whose orgId names another organization: 500 that says so, nothing kept, the grant let go', async () => {
    const store = new MemoryTokenStore();
    const tokens = new TokenManager({ store, client: clientOf(emulator) });
    app = await startApp(new SamsaraStrategy({ tokens, verify: async () => ({ orgId: '2002' }) }));
    const res = await signInThrough(app);
    expect(res.status).to.equal(500);
    expect(res.body.error).to.include({ name: 'ConfigurationError', code: 'SAMSARA_CONFIG' });
    expect(res.body.error.message)
      .to.include('1001')
      .and.include('"2002"')
      .and.match(/orgId must be profile\.id/);
    await tokens.idle();
    expect(await store.get('1001')).to.equal(null);
    expect(await store.get('2002')).to.equal(null);
    expect(emulator.activeGrants('1001')).to.equal(0);
    expect((await app.agent.get('/whoami')).body.user).to.equal(null);
  });

  it('the verify option returning undefined is an error, not a sign-in; its grant is let go', async () => {
    const tokens = new TokenManager({ client: clientOf(emulator) });
    const verify = (async () => undefined) as unknown as NonNullable<SamsaraStrategyOptions['verify']>;
    app = await startApp(new SamsaraStrategy({ tokens, verify }));
    const res = await signInThrough(app);
    expect(res.status).to.equal(500);
    expect(res.body.error.message).to.match(/returned undefined/);
    await tokens.idle();
    expect(emulator.activeGrants('1001')).to.equal(0);
  });

  it('a grant the store cannot take fails the sign-in (503) and is revoked, not left live', async () => {
    const store = new MemoryTokenStore();
    sinon.stub(store, 'replace').rejects(new StoreUnavailableError('the token store did not answer (test)'));
    const tokens = new TokenManager({ store, client: clientOf(emulator), retryDelay: 1 });
    app = await startApp(new SamsaraStrategy({ tokens }));
    const res = await signInThrough(app);
    expect(res.status).to.equal(500);
    expect(res.body.error).to.include({ code: 'SAMSARA_STORE_UNAVAILABLE' });
    expect((await app.agent.get('/whoami')).body.user).to.equal(null);
    await tokens.idle();
    expect(emulator.activeGrants('1001')).to.equal(0);
  });

  it('the verify option receives the profile, the token params and the request', async () => {
    const seen: Array<{ id: string; expiresIn: unknown; path: string }> = [];
    const tokens = new TokenManager({ client: clientOf(emulator) });
    app = await startApp(
      new SamsaraStrategy({
        tokens,
        verify: ({ profile, params, req }) => {
          seen.push({ id: profile.id, expiresIn: params.expires_in, path: req.path });
          return { orgId: profile.id, orgName: profile.displayName };
        },
      }),
    );
    expect((await signInThrough(app)).body.user).to.deep.equal({ orgId: '1001', orgName: "Charlie's Dining Services" });
    expect(seen).to.deep.equal([{ id: '1001', expiresIn: 3600, path: '/auth/samsara/callback' }]);
  });

  it('refuses the verify option and a verify argument together', () => {
    expect(
      () => new SamsaraStrategy({ ...clientOf(emulator), verify: () => false }, async () => ({ orgId: '1' })),
    ).to.throw(/either as the verify option or as the second argument/);
  });
});
