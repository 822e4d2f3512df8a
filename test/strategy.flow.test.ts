import { expect } from 'chai';
import { MemoryTokenStore, SamsaraStrategy, TokenManager } from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { authorizeRedirect, pathOf, startApp, type TestApp } from './support/app.js';
import { EXPRESSES } from './support/expresses.js';
import { clientOf } from './support/grants.js';

for (const { name, express } of EXPRESSES)
  describe(`SamsaraStrategy: the authorization-code flow through ${name}`, () => {
    let emulator: SamsaraEmulator;
    let app: TestApp;
    let tokenStore: MemoryTokenStore;

    beforeEach(async () => {
      emulator = await startSamsaraEmulator({ autoApprove: true, accessTokenTtl: 3600 });
      tokenStore = new MemoryTokenStore();
      app = await startApp(
        new SamsaraStrategy({ tokens: new TokenManager({ store: tokenStore, client: clientOf(emulator) }) }),
        {},
        express,
      );
    });

    afterEach(async () => {
      await app.close();
      await emulator.stop();
    });

    it('redirects to authorize with client_id, state, response_type and the resolved redirect_uri', async () => {
      const { authorizeURL } = await authorizeRedirect(app);
      expect(authorizeURL.origin + authorizeURL.pathname).to.equal(`${emulator.baseURL}/oauth2/authorize`);
      expect(authorizeURL.searchParams.get('client_id')).to.equal(emulator.clientID);
      expect(authorizeURL.searchParams.get('response_type')).to.equal('code');
      expect(authorizeURL.searchParams.get('redirect_uri')).to.equal(`${app.url}/auth/samsara/callback`);
      expect(authorizeURL.searchParams.get('state')).to.match(/^[\w-]{8,}$/);
      expect(authorizeURL.searchParams.has('code_challenge')).to.equal(false);
    });

    it('signs the organization in, stores its credentials by org id, and keeps every token out of the session', async () => {
      const before = Date.now();
      const { callback } = await authorizeRedirect(app);
      const res = await app.agent.get(pathOf(callback)).expect(200);
      const after = Date.now();
      expect(res.body.user).to.deep.equal({ orgId: '1001', orgName: "Charlie's Dining Services" });

      const creds = await tokenStore.get('1001');
      expect(creds).to.not.equal(null);
      expect(creds!.accessToken).to.be.a('string').with.length.greaterThan(20);
      expect(creds!.refreshToken).to.be.a('string').with.length.greaterThan(20);
      expect(creds!.expiresAt).to.be.within(before + 3600_000, after + 3600_000);
      expect(emulator.grantStatus(creds!.refreshToken)).to.equal('active');

      const whoami = await app.agent.get('/whoami').expect(200);
      expect(whoami.body.user).to.deep.equal(res.body.user);
      const sessions = JSON.stringify((app.sessions as unknown as { sessions: unknown }).sessions);
      expect(sessions).to.include('1001');
      expect(sessions).to.not.include(creds!.accessToken);
      expect(sessions).to.not.include(creds!.refreshToken);
      expect(sessions).to.not.include(callback.searchParams.get('code')!);
      expect(emulator.counters.grants.authorization_code).to.equal(1);
    });

    it('fails a forged state with 403 and sends no token request', async () => {
      const { callback } = await authorizeRedirect(app);
      callback.searchParams.set('state', 'forged-state-value');
      const res = await app.agent.get(pathOf(callback)).expect(403);
      expect(res.body.fail.message).to.match(/state/i);
      expect(emulator.counters.tokenRequests).to.equal(0);
      expect(await tokenStore.get('1001')).to.equal(null);
    });

    it('fails a missing state with 403 and sends no token request', async () => {
      const { callback } = await authorizeRedirect(app);
      callback.searchParams.delete('state');
      await app.agent.get(pathOf(callback)).expect(403);
      expect(emulator.counters.tokenRequests).to.equal(0);
    });

    it('fails a callback from another browser session (no state in its session) with 403', async () => {
      const { callback } = await authorizeRedirect(app);
      const stranger = (await import('supertest')).default.agent(app.url);
      await stranger.get(pathOf(callback)).expect(403);
      expect(emulator.counters.tokenRequests).to.equal(0);
    });

    /** The callback Samsara would send for this browser's pending sign-in, with an error instead of a code. */
    async function errorCallback(error: string, description: string): Promise<string> {
      const { authorizeURL } = await authorizeRedirect(app);
      const query = new URLSearchParams({ error, error_description: description });
      query.set('state', authorizeURL.searchParams.get('state')!);
      return `/auth/samsara/callback?${query.toString()}`;
    }

    it("fails access_denied with Samsara's description", async () => {
      const res = await app.agent.get(await errorCallback('access_denied', 'The user denied access')).expect(401);
      expect(res.body.fail.message).to.equal('The user denied access');
      expect(emulator.counters.tokenRequests).to.equal(0);
    });

    it("turns another callback error of this browser's sign-in into an AuthorizationError with its code", async () => {
      const res = await app.agent.get(await errorCallback('server_error', 'Oops')).expect(500);
      expect(res.body.error).to.include({ name: 'AuthorizationError', code: 'server_error', message: 'Oops' });
    });

    it('checks state before error=: an error without a state this session holds fails with 400, no error raised', async () => {
      await app.agent.get('/auth/samsara').expect(302);
      for (const query of [
        'error=server_error&error_description=Oops',
        'error=x&state=forged',
        'error=access_denied',
      ]) {
        const res = await app.agent.get(`/auth/samsara/callback?${query}`).expect(400);
        expect(res.body.fail.message, query).to.match(/did not start/);
      }
      // A stranger's browser, with the victim's real state: not this session's either.
      const stranger = (await import('supertest')).default.agent(app.url);
      await stranger.get(await errorCallback('server_error', 'Oops')).expect(400);
      expect(emulator.counters.tokenRequests).to.equal(0);
    });

    it('spends the state of a sign-in that Samsara answered with an error: a replay fails with 400', async () => {
      const callback = await errorCallback('access_denied', 'No');
      await app.agent.get(callback).expect(401);
      await app.agent.get(callback).expect(400);
    });

    it('fails a callback without a code with 400 instead of restarting the flow', async () => {
      const { callback } = await authorizeRedirect(app);
      callback.searchParams.delete('code');
      const res = await app.agent.get(pathOf(callback)).expect(400);
      expect(res.body.fail.message).to.match(/without an authorization code/);
      const bare = await app.agent.get('/auth/samsara/callback').expect(400);
      expect(bare.body.fail.message).to.match(/without an authorization code/);
      expect(emulator.counters.tokenRequests).to.equal(0);
    });

    it("fails a replayed code with the token endpoint's invalid_grant and keeps no credentials from it", async () => {
      const { callback } = await authorizeRedirect(app);
      await app.agent.get(pathOf(callback)).expect(200);
      const stored = await tokenStore.get('1001');

      // A second sign-in attempt in the same browser, replaying the first code with a fresh state.
      const { callback: second } = await authorizeRedirect(app);
      second.searchParams.set('code', callback.searchParams.get('code')!);
      const res = await app.agent.get(pathOf(second)).expect(500);
      expect(res.body.error).to.include({ name: 'TokenError', code: 'invalid_grant', status: 400 });
      expect(emulator.counters.invalidGrant).to.equal(1);
      // The emulator revokes what a replayed code produced (RFC 6749 §4.1.2); the store was not written.
      expect(await tokenStore.get('1001')).to.deep.equal(stored);
    });
  });
