import { expect } from 'chai';
import {
  MemoryTokenStore,
  SamsaraStrategy,
  TokenManager,
  type SamsaraProfile,
  type SamsaraTokenParams,
  type VerifyDone,
} from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { authorizeRedirect, pathOf, signInThrough, startApp, type TestApp } from './support/app.js';
import { clientOf } from './support/grants.js';

describe('SamsaraStrategy: the grants its sign-ins receive', () => {
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

  it('a bare new SamsaraStrategy() signs in and its own manager serves the token: one owner, no second default', async () => {
    process.env.SAMSARA_CLIENT_ID = emulator.clientID;
    process.env.SAMSARA_CLIENT_SECRET = emulator.clientSecret;
    process.env.SAMSARA_BASE_URL = emulator.baseURL;
    try {
      const strategy = new SamsaraStrategy();
      app = await startApp(strategy);
      expect((await signInThrough(app)).status).to.equal(200);
      const token = await strategy.tokens.accessToken('1001');
      const me = await fetch(`${emulator.baseURL}/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status).to.equal(200);
    } finally {
      delete process.env.SAMSARA_CLIENT_ID;
      delete process.env.SAMSARA_CLIENT_SECRET;
      delete process.env.SAMSARA_BASE_URL;
    }
  });

  it('takes the emulator handle as client options as it stands', async () => {
    const tokens = new TokenManager({ client: emulator });
    app = await startApp(new SamsaraStrategy({ tokens }));
    expect((await signInThrough(app)).status).to.equal(200);
    expect(tokens.client.endpoints.baseURL).to.equal(emulator.baseURL);
    expect(new SamsaraStrategy({ ...emulator }).tokens.client.clientID).to.equal(emulator.clientID);
  });

  it('refuses tokens together with client options: the two would silently disagree', () => {
    const tokens = new TokenManager({ client: clientOf(emulator) });
    expect(() => new SamsaraStrategy({ tokens, clientID: 'other' })).to.throw(/either tokens or the client options/);
  });

  it('signing the same organization in four times, then Disconnect, leaves no grant live', async () => {
    const store = new MemoryTokenStore();
    const tokens = new TokenManager({ store, client: clientOf(emulator) });
    app = await startApp(new SamsaraStrategy({ tokens }));
    for (let i = 0; i < 4; i++) expect((await signInThrough(app)).status).to.equal(200);
    expect(emulator.activeGrants('1001')).to.equal(4);
    expect((await store.retired('1001')).length).to.equal(3);
    await tokens.revoke('1001');
    expect(emulator.activeGrants('1001')).to.equal(0);
  });

  it('under per-grant revocation, each sign-in revokes the grant it replaces at once: at Samsara, between sign-ins', async () => {
    emulator.configure({ revocation: 'grant' });
    const store = new MemoryTokenStore();
    const tokens = new TokenManager({ store, client: clientOf(emulator), revocation: 'grant' });
    app = await startApp(new SamsaraStrategy({ tokens }));
    const kept: string[] = [];
    for (let i = 0; i < 4; i++) {
      expect((await signInThrough(app)).status).to.equal(200);
      const current = (await store.get('1001'))!.refreshToken;
      expect(emulator.grantStatus(current), `sign-in ${i + 1}: its own grant lives`).to.equal('active');
      for (const [j, replaced] of kept.entries()) {
        expect(emulator.grantStatus(replaced), `sign-in ${i + 1}: the grant of sign-in ${j + 1} is dead`).to.equal(
          'revoked',
        );
      }
      expect(emulator.activeGrants('1001'), 'at most one live grant').to.equal(1);
      expect(await store.retired('1001'), 'nothing left to revoke at Disconnect').to.deep.equal([]);
      kept.push(current);
    }
  });

  const refusals: Array<[string, (profile: SamsaraProfile) => Promise<false>, number]> = [
    ['refuses (false)', async () => false, 401],
    [
      'throws',
      async () => {
        throw new Error('accounts database down');
      },
      500,
    ],
  ];
  for (const [what, decide, status] of refusals) {
    it(`a verify that ${what} leaves no grant live, and never ends the organization's kept grant`, async () => {
      const store = new MemoryTokenStore();
      const tokens = new TokenManager({ store, client: clientOf(emulator) });
      let refuse = true;
      const strategy = new SamsaraStrategy(
        { tokens },
        async (_at: string, _rt: string, params: SamsaraTokenParams, profile: SamsaraProfile, _done: VerifyDone) => {
          if (refuse) return decide(profile);
          await tokens.connect(profile.id, params);
          return { orgId: profile.id };
        },
      );
      app = await startApp(strategy);
      expect((await signInThrough(app)).status).to.equal(status);
      await tokens.idle();
      expect(emulator.activeGrants('1001'), 'nothing kept: the refused grant is revoked').to.equal(0);

      refuse = false;
      expect((await signInThrough(app)).status).to.equal(200);
      refuse = true;
      expect((await signInThrough(app)).status).to.equal(status);
      await tokens.idle();
      const token = await tokens.accessToken('1001');
      const me = await fetch(`${emulator.baseURL}/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(me.status, 'the kept grant still works').to.equal(200);
      expect((await store.retired('1001')).length, 'the refused one waits beside it').to.equal(1);
      await tokens.revoke('1001');
      expect(emulator.activeGrants('1001')).to.equal(0);
    });
  }

  it('two sign-ins pending in one session (two tabs) both complete', async () => {
    const tokens = new TokenManager({ client: clientOf(emulator) });
    app = await startApp(new SamsaraStrategy({ tokens }));
    const first = await authorizeRedirect(app);
    const second = await authorizeRedirect(app);
    expect((await app.agent.get(pathOf(second.callback))).status).to.equal(200);
    expect((await app.agent.get(pathOf(first.callback))).status).to.equal(200);
    expect((await app.agent.get(pathOf(first.callback))).status, 'each state is single-use').to.equal(403);
  });
});
