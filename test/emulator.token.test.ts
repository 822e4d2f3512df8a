import { expect } from 'chai';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { REDIRECT, api, basic, codeFor, postForm } from './support/raw-oauth.js';

describe('Samsara emulator: the token and revoke endpoints', () => {
  let emulator: SamsaraEmulator;

  beforeEach(async () => {
    emulator = await startSamsaraEmulator({ autoApprove: true });
  });
  afterEach(() => emulator.stop());

  it('requires HTTP Basic client authentication, and only that', async () => {
    const code = await codeFor(emulator);
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT };
    const none = await postForm(emulator, '/oauth2/token', form, null);
    expect(none.status).to.equal(401);
    expect(none.body.error).to.equal('invalid_client');
    expect(none.headers.get('www-authenticate')).to.match(/^Basic/);
    const wrong = await postForm(emulator, '/oauth2/token', form, basic(emulator.clientId, 'not-the-secret'));
    expect(wrong.status).to.equal(401);
    const twice = await postForm(emulator, '/oauth2/token', { ...form, client_secret: emulator.clientSecret });
    expect(twice.status).to.equal(400);
    expect(twice.body.error_description).to.match(/more than one client authentication/);
    expect(emulator.counters.invalidClient).to.equal(2);
    expect((await postForm(emulator, '/oauth2/token', form)).status).to.equal(200);
  });

  it('answers RFC 6749 errors for a bad grant_type, missing parameters and a wrong content type', async () => {
    expect((await postForm(emulator, '/oauth2/token', { grant_type: 'password' })).body.error).to.equal('unsupported_grant_type');
    expect((await postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token' })).body.error).to.equal('invalid_request');
    const json = await fetch(`${emulator.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic(emulator.clientId, emulator.clientSecret) },
      body: '{}',
    });
    expect(json.status).to.equal(400);
    expect(((await json.json()) as { error: string }).error).to.equal('invalid_request');
  });

  it('rotates refresh tokens: each works once, and the old one then fails with invalid_grant', async () => {
    const grant = emulator.issueGrant();
    const first = await postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: grant.refreshToken });
    expect(first.status).to.equal(200);
    expect(first.body.refresh_token).to.not.equal(grant.refreshToken);
    expect(first.body.access_token).to.not.equal(grant.accessToken);
    expect(emulator.grantStatus(grant.refreshToken)).to.equal('rotated');
    const reuse = await postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: grant.refreshToken });
    expect(reuse.status).to.equal(400);
    expect(reuse.body.error).to.equal('invalid_grant');
    const next = await postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: first.body.refresh_token });
    expect(next.status).to.equal(200);
    expect(emulator.counters.grants.refresh_token).to.equal(3);
    expect(emulator.counters.invalidGrant).to.equal(1);
    // a bearer token stays valid until its own expiry
    expect((await api(emulator, '/me', grant.accessToken)).status).to.equal(200);
  });

  it('lets a rotated refresh token work again within the reuse grace', async () => {
    emulator.configure({ refreshTokenReuseGrace: 60_000 });
    const grant = emulator.issueGrant();
    const a = await postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: grant.refreshToken });
    const b = await postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: grant.refreshToken });
    expect([a.status, b.status]).to.deep.equal([200, 200]);
    expect(a.body.access_token).to.not.equal(b.body.access_token);
  });

  it('with revokeOnReuse, revokes the whole grant when a rotated refresh token comes back', async () => {
    emulator.configure({ revokeOnReuse: true });
    const grant = emulator.issueGrant();
    const first = await postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: grant.refreshToken });
    expect(emulator.grantStatus(first.body.refresh_token)).to.equal('active');
    const reuse = await postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: grant.refreshToken });
    expect(reuse.body.error).to.equal('invalid_grant');
    expect(emulator.grantStatus(first.body.refresh_token)).to.equal('revoked');
    expect((await api(emulator, '/me', first.body.access_token)).status).to.equal(401);
  });

  it('revokes the whole grant (refresh and access tokens) and answers 200 for unknown tokens', async () => {
    const grant = emulator.issueGrant();
    const revoked = await postForm(emulator, '/oauth2/revoke', { token: grant.refreshToken });
    expect(revoked.status).to.equal(200);
    expect(revoked.body).to.deep.equal({});
    expect(emulator.grantStatus(grant.refreshToken)).to.equal('revoked');
    expect((await api(emulator, '/me', grant.accessToken)).status).to.equal(401);
    const refresh = await postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: grant.refreshToken });
    expect(refresh.body.error).to.equal('invalid_grant');
    expect((await postForm(emulator, '/oauth2/revoke', { token: 'no-such-token' })).status).to.equal(200);
    expect((await postForm(emulator, '/oauth2/revoke', {})).status).to.equal(400);
    expect((await postForm(emulator, '/oauth2/revoke', { token: 'x' }, null)).status).to.equal(401);
    expect(emulator.counters.revocations).to.equal(4);
    expect(emulator.activeGrants()).to.equal(0);
  });

  describe('faults', () => {
    it('answers a scripted status for the next N requests, then behaves', async () => {
      emulator.injectFault('token', { type: 'status', status: 503, body: 'busy' }, 2);
      const form = { grant_type: 'refresh_token', refresh_token: emulator.issueGrant().refreshToken };
      expect((await postForm(emulator, '/oauth2/token', form)).status).to.equal(503);
      expect((await postForm(emulator, '/oauth2/token', form)).body).to.equal('busy');
      expect((await postForm(emulator, '/oauth2/token', form)).status).to.equal(200);
      expect(emulator.counters.tokenRequests).to.equal(3);
    });

    it('drops the connection without processing', async () => {
      const grant = emulator.issueGrant();
      emulator.injectFault('token', { type: 'drop' });
      const err = await postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: grant.refreshToken }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(TypeError);
      expect(emulator.grantStatus(grant.refreshToken)).to.equal('active');
    });

    it('drops the connection after processing the grant: the client saw an error, the token was rotated', async () => {
      const grant = emulator.issueGrant();
      emulator.injectFault('token', { type: 'drop-after-grant' });
      const err = await postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: grant.refreshToken }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(TypeError);
      expect(emulator.grantStatus(grant.refreshToken)).to.equal('rotated');
      expect(emulator.counters.tokensIssued).to.equal(1);
    });

    it('delays, and hangs until stop() (which does not hang itself)', async () => {
      emulator.injectFault('token', { type: 'delay', ms: 150 });
      const started = Date.now();
      await postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: emulator.issueGrant().refreshToken });
      expect(Date.now() - started).to.be.at.least(140);
      emulator.injectFault('token', { type: 'hang' });
      const hanging = postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: 'x' }).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 50));
      const stopping = Date.now();
      await emulator.stop();
      expect(Date.now() - stopping).to.be.below(1_000);
      expect(await hanging).to.be.instanceOf(TypeError);
    });
  });
});
