import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { REDIRECT, authorize, codeFor, postForm } from './support/raw-oauth.js';

describe('Samsara emulator: authorize and the code exchange', () => {
  let emulator: SamsaraEmulator;
  let now: number;

  beforeEach(async () => {
    now = Date.now();
    emulator = await startSamsaraEmulator({ clock: () => now });
  });
  afterEach(() => emulator.stop());

  it('shows a consent page with Allow and Deny that carries the request along', async () => {
    const res = await authorize(emulator, { state: 'xyz' });
    expect(res.status).to.equal(200);
    const html = await res.text();
    expect(html).to.include('id="allow"').and.include('id="deny"').and.include('name="org_id"');
    expect(html).to.include('value="xyz"').and.include(`value="${REDIRECT}"`);
  });

  it('redirects with a code and the exact state on Allow, and access_denied on Deny', async () => {
    const form = (decision: string) =>
      fetch(`${emulator.url}/oauth2/authorize`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: emulator.clientId, redirect_uri: REDIRECT, response_type: 'code', state: 'a b&c', org_id: '1001', decision }),
      });
    const allowed = new URL((await form('allow')).headers.get('location') as string);
    expect(allowed.origin + allowed.pathname).to.equal(REDIRECT);
    expect(allowed.searchParams.get('state')).to.equal('a b&c');
    expect(allowed.searchParams.get('code')).to.match(/^[\w-]{43}$/);
    const denied = new URL((await form('deny')).headers.get('location') as string);
    expect(denied.searchParams.get('error')).to.equal('access_denied');
    expect(denied.searchParams.get('error_description')).to.equal('The user denied access');
    expect(denied.searchParams.has('code')).to.equal(false);
  });

  it('never redirects for an unknown client or an unregistered redirect_uri', async () => {
    const unknown = await authorize(emulator, { client_id: 'who' });
    expect(unknown.status).to.equal(400);
    expect(unknown.headers.get('location')).to.equal(null);
    const offsite = await authorize(emulator, { redirect_uri: 'https://evil.example.com/cb' });
    expect(offsite.status).to.equal(400);
    expect(offsite.headers.get('location')).to.equal(null);
  });

  it('matches registered redirect URIs exactly when a client lists them', async () => {
    const strict = await startSamsaraEmulator({ clients: [{ clientId: 'c', clientSecret: 's', redirectUris: ['http://127.0.0.1:9/cb'] }], autoApprove: true });
    try {
      const exact = await fetch(`${strict.url}/oauth2/authorize?client_id=c&response_type=code&redirect_uri=${encodeURIComponent('http://127.0.0.1:9/cb')}`, { redirect: 'manual' });
      expect(exact.status).to.equal(302);
      const other = await fetch(`${strict.url}/oauth2/authorize?client_id=c&response_type=code&redirect_uri=${encodeURIComponent('http://127.0.0.1:9/other')}`, { redirect: 'manual' });
      expect(other.status).to.equal(400);
      const omitted = await fetch(`${strict.url}/oauth2/authorize?client_id=c&response_type=code`, { redirect: 'manual' });
      expect(new URL(omitted.headers.get('location') as string).pathname).to.equal('/cb');
    } finally {
      await strict.stop();
    }
  });

  it('redirects unsupported_response_type with the state', async () => {
    const res = await authorize(emulator, { response_type: 'token', state: 'st' });
    const location = new URL(res.headers.get('location') as string);
    expect(location.searchParams.get('error')).to.equal('unsupported_response_type');
    expect(location.searchParams.get('state')).to.equal('st');
  });

  describe('codes', () => {
    beforeEach(() => emulator.configure({ autoApprove: true }));

    it('are single use, and a replayed code revokes what it produced', async () => {
      const code = await codeFor(emulator);
      const first = await postForm(emulator, '/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
      expect(first.status).to.equal(200);
      expect(first.headers.get('cache-control')).to.equal('no-store');
      expect(first.body).to.include({ token_type: 'Bearer', expires_in: 3600 });
      const replay = await postForm(emulator, '/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
      expect(replay.status).to.equal(400);
      expect(replay.body.error).to.equal('invalid_grant');
      expect(emulator.grantStatus(first.body.refresh_token)).to.equal('revoked');
      expect(emulator.counters.invalidGrant).to.equal(1);
    });

    it('are bound to the redirect_uri of the authorize request', async () => {
      const code = await codeFor(emulator);
      const other = await postForm(emulator, '/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:9/elsewhere' });
      expect(other.body.error).to.equal('invalid_grant');
      const code2 = await codeFor(emulator);
      const missing = await postForm(emulator, '/oauth2/token', { grant_type: 'authorization_code', code: code2 });
      expect(missing.body.error).to.equal('invalid_grant');
    });

    it('expire after codeTtl', async () => {
      const code = await codeFor(emulator);
      now += 601_000;
      const res = await postForm(emulator, '/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
      expect(res.body).to.include({ error: 'invalid_grant' });
      expect(res.body.error_description).to.match(/expired/);
    });

    it('check a PKCE S256 verifier', async () => {
      const verifier = 'v'.repeat(50);
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const code = await codeFor(emulator, { code_challenge: challenge, code_challenge_method: 'S256' });
      const wrong = await postForm(emulator, '/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: 'x'.repeat(50) });
      expect(wrong.body.error).to.equal('invalid_grant');
      const code2 = await codeFor(emulator, { code_challenge: challenge, code_challenge_method: 'S256' });
      const right = await postForm(emulator, '/oauth2/token', { grant_type: 'authorization_code', code: code2, redirect_uri: REDIRECT, code_verifier: verifier });
      expect(right.status).to.equal(200);
    });
  });
});
