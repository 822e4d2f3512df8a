import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { REDIRECT, api, basic, codeFor, postForm } from './support/raw-oauth.js';

describe('Samsara emulator: exchanging authorization codes', () => {
  let emulator: SamsaraEmulator;
  let now: number;

  beforeEach(async () => {
    now = Date.parse('2025-03-01T12:00:00Z');
    emulator = await startSamsaraEmulator({
      autoApprove: true,
      clock: () => now,
      clients: [
        { clientId: 'samsara-emulator-client', clientSecret: 'samsara-emulator-secret' },
        { clientId: 'other-app', clientSecret: 'other-secret' },
      ],
    });
  });
  afterEach(() => emulator.stop());

  const exchange = (form: Record<string, string>, authorization?: string) =>
    postForm(
      emulator,
      '/oauth2/token',
      { grant_type: 'authorization_code', redirect_uri: REDIRECT, ...form },
      authorization,
    );

  it('answers a token response that is never cached, with distinct random tokens', async () => {
    const res = await exchange({ code: await codeFor(emulator) });
    expect(res.status).to.equal(200);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(res.body).to.have.all.keys('access_token', 'token_type', 'expires_in', 'refresh_token', 'scope');
    expect(res.body).to.include({ token_type: 'Bearer', expires_in: 3600 });
    expect(res.body.access_token).to.match(/^[\w-]{43,}$/);
    expect(res.body.refresh_token).to.match(/^[\w-]{43,}$/);
    expect(res.body.access_token).to.not.equal(res.body.refresh_token);
    const again = await exchange({ code: await codeFor(emulator) });
    expect(again.body.access_token).to.not.equal(res.body.access_token);
    expect(again.body.refresh_token).to.not.equal(res.body.refresh_token);
  });

  it('takes a code once; a replay fails with invalid_grant and revokes the grant the code produced', async () => {
    const code = await codeFor(emulator);
    const first = await exchange({ code });
    expect(first.status).to.equal(200);
    expect(emulator.activeGrants()).to.equal(1);
    const replay = await exchange({ code });
    expect(replay.status).to.equal(400);
    expect(replay.body.error).to.equal('invalid_grant');
    expect(replay.headers.get('cache-control')).to.equal('no-store');
    expect(emulator.grantStatus(first.body.refresh_token)).to.equal('revoked');
    expect(emulator.activeGrants()).to.equal(0);
    expect((await api(emulator, '/me', first.body.access_token)).status).to.equal(401);
    expect(emulator.counters.invalidGrant).to.equal(1);
  });

  it('binds a code to the redirect_uri it was sent to: another one is invalid_grant', async () => {
    const code = await codeFor(emulator);
    const elsewhere = await exchange({ code, redirect_uri: 'http://127.0.0.1:9/elsewhere' });
    expect(elsewhere.body.error).to.equal('invalid_grant');
    expect((await exchange({ code })).status, 'the right redirect_uri still works').to.equal(200);
  });

  it('takes a code exchange without redirect_uri, as Samsara does (its own samples send none)', async () => {
    const code = await codeFor(emulator);
    const res = await postForm(emulator, '/oauth2/token', { grant_type: 'authorization_code', code });
    expect(res.status).to.equal(200);
    expect(res.body).to.include.keys('access_token', 'refresh_token');
  });

  it('with strictRedirectUri, wants the redirect_uri of the authorize request back (RFC 6749 §4.1.3)', async () => {
    emulator.configure({ strictRedirectUri: true });
    const code = await codeFor(emulator);
    const missing = await postForm(emulator, '/oauth2/token', { grant_type: 'authorization_code', code });
    expect([missing.status, missing.body.error]).to.deep.equal([400, 'invalid_grant']);
    expect(missing.body.error_description).to.match(/redirect_uri is required/);
    expect((await exchange({ code })).status, 'the failed attempt did not consume the code').to.equal(200);
    emulator.configure({ strictRedirectUri: false });
    const lenient = await postForm(emulator, '/oauth2/token', {
      grant_type: 'authorization_code',
      code: await codeFor(emulator),
    });
    expect(lenient.status, 'configure() switches it back').to.equal(200);
    expect(() => emulator.configure({ strictRedirectUri: 'yes' as unknown as boolean })).to.throw(RangeError);
  });

  it('does not ask for a redirect_uri the authorize request did not carry, even when strict', async () => {
    const strict = await startSamsaraEmulator({
      clients: [{ clientId: 'c', clientSecret: 's', redirectUris: [REDIRECT] }],
      autoApprove: true,
      strictRedirectUri: true,
    });
    const codeOf = async () => {
      const res = await fetch(`${strict.baseURL}/oauth2/authorize?client_id=c&response_type=code&state=x`, {
        redirect: 'manual',
      });
      return new URL(res.headers.get('location') as string).searchParams.get('code') as string;
    };
    const exchangeAt = (form: Record<string, string>) =>
      postForm(strict, '/oauth2/token', { grant_type: 'authorization_code', ...form }, basic('c', 's'));
    try {
      expect((await exchangeAt({ code: await codeOf() })).status).to.equal(200);
      const code = await codeOf();
      const other = await exchangeAt({ code, redirect_uri: 'http://127.0.0.1:9/other' });
      expect(other.body.error, 'one that is sent must be where the code went').to.equal('invalid_grant');
      expect((await exchangeAt({ code, redirect_uri: REDIRECT })).status).to.equal(200);
    } finally {
      await strict.stop();
    }
  });

  it('expires codes after codeTtl on the emulator clock', async () => {
    const fresh = await codeFor(emulator);
    const stale = await codeFor(emulator);
    now += 599_000;
    expect((await exchange({ code: fresh })).status).to.equal(200);
    now += 1_000;
    const res = await exchange({ code: stale });
    expect(res.body.error).to.equal('invalid_grant');
    expect(res.body.error_description).to.match(/expired/);
  });

  it("refuses another client's code, an unknown code and a missing one", async () => {
    const code = await codeFor(emulator);
    expect((await exchange({ code }, basic('other-app', 'other-secret'))).body.error).to.equal('invalid_grant');
    expect((await exchange({ code: 'no-such-code' })).body.error).to.equal('invalid_grant');
    expect((await exchange({})).body.error).to.equal('invalid_request');
    expect((await exchange({ code })).status, 'the failed attempts did not consume it').to.equal(200);
  });

  describe('PKCE (RFC 7636)', () => {
    const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    const s256 = createHash('sha256').update(verifier).digest('base64url');

    it('checks an S256 verifier', async () => {
      const challenge = { code_challenge: s256, code_challenge_method: 'S256' };
      const wrong = await exchange({
        code: await codeFor(emulator, challenge),
        code_verifier: `${verifier.slice(0, -1)}Y`,
      });
      expect(wrong.body.error).to.equal('invalid_grant');
      const missing = await exchange({ code: await codeFor(emulator, challenge) });
      expect(missing.body.error).to.equal('invalid_grant');
      const plainSent = await exchange({ code: await codeFor(emulator, challenge), code_verifier: s256 });
      expect(plainSent.body.error, 'the challenge itself is no verifier').to.equal('invalid_grant');
      const right = await exchange({ code: await codeFor(emulator, challenge), code_verifier: verifier });
      expect(right.status).to.equal(200);
    });

    it('checks a plain verifier, the default method', async () => {
      const right = await exchange({
        code: await codeFor(emulator, { code_challenge: verifier }),
        code_verifier: verifier,
      });
      expect(right.status).to.equal(200);
      const wrong = await exchange({
        code: await codeFor(emulator, { code_challenge: verifier }),
        code_verifier: s256,
      });
      expect(wrong.body.error).to.equal('invalid_grant');
    });

    it('ignores a verifier when the authorize request had no challenge', async () => {
      const res = await exchange({ code: await codeFor(emulator), code_verifier: verifier });
      expect(res.status).to.equal(200);
    });
  });
});
