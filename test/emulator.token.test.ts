import { expect } from 'chai';
import {
  EMULATOR_CLIENT_ID,
  EMULATOR_CLIENT_SECRET,
  startSamsaraEmulator,
  type SamsaraEmulator,
} from 'passport-samsara/testing';
import { api, basic, postForm } from './support/raw-oauth.js';

/** RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded. */
function encodedBasic(id: string, secret: string): string {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return basic(encode(id), encode(secret));
}

describe('Samsara emulator: the token and revoke endpoints', () => {
  let emulator: SamsaraEmulator;
  let now: number;

  beforeEach(async () => {
    // A clock that stands still: single use must hold even within one millisecond.
    now = Date.parse('2025-03-01T12:00:00Z');
    emulator = await startSamsaraEmulator({
      clock: () => now,
      clients: [
        { clientId: EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET },
        { clientId: 'fleet:app+1', clientSecret: 'p@ss w:rd/+é%' },
      ],
    });
  });
  afterEach(() => emulator.stop());

  const refresh = (refreshToken: string, authorization?: string | null) =>
    postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: refreshToken }, authorization);

  describe('client authentication', () => {
    it('requires HTTP Basic: none or a wrong secret is 401 invalid_client with a Basic challenge', async () => {
      const { refreshToken } = emulator.issueGrant();
      for (const authorization of [
        null,
        basic(EMULATOR_CLIENT_ID, 'not-the-secret'),
        basic('nobody', EMULATOR_CLIENT_SECRET),
        'Basic !!!',
        `Bearer ${refreshToken}`,
      ]) {
        const res = await refresh(refreshToken, authorization);
        expect(res.status, String(authorization)).to.equal(401);
        expect(res.body).to.deep.include({ error: 'invalid_client' });
        expect(res.body.error_description).to.be.a('string');
        expect(res.headers.get('www-authenticate')).to.equal('Basic realm="samsara"');
        expect(res.headers.get('cache-control')).to.equal('no-store');
      }
      expect(emulator.counters.invalidClient).to.equal(5);
      expect(emulator.grantStatus(refreshToken), 'nothing was processed').to.equal('active');
    });

    it('refuses the secret in the body, alone or next to Basic', async () => {
      const { refreshToken } = emulator.issueGrant();
      const form = {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: EMULATOR_CLIENT_ID,
        client_secret: EMULATOR_CLIENT_SECRET,
      };
      const bodyOnly = await postForm(emulator, '/oauth2/token', form, null);
      expect(bodyOnly.status).to.equal(401);
      const both = await postForm(emulator, '/oauth2/token', form);
      expect(both.status).to.equal(400);
      expect(both.body.error).to.equal('invalid_request');
      expect(both.body.error_description).to.match(/more than one client authentication method/);
      const otherId = await postForm(emulator, '/oauth2/token', {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: 'fleet:app+1',
      });
      expect(otherId.status).to.equal(400);
      const sameId = await postForm(emulator, '/oauth2/token', {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: EMULATOR_CLIENT_ID,
      });
      expect(sameId.status, 'a client_id matching Basic is no second method').to.equal(200);
    });

    it('decodes form-urlencoded credentials, and so refuses unencoded ones that need encoding', async () => {
      const { refreshToken } = emulator.issueGrant('1001', 'fleet:app+1');
      expect((await refresh(refreshToken, basic('fleet:app+1', 'p@ss w:rd/+é%'))).status).to.equal(401);
      const res = await refresh(refreshToken, encodedBasic('fleet:app+1', 'p@ss w:rd/+é%'));
      expect(res.status).to.equal(200);
    });
  });

  describe('requests', () => {
    it('answers RFC 6749 errors for a bad grant_type, missing or repeated parameters, a wrong content type and GET', async () => {
      const cases: Array<[string, Record<string, string> | string, string]> = [
        ['password grant', { grant_type: 'password', username: 'a', password: 'b' }, 'unsupported_grant_type'],
        ['no grant_type', { refresh_token: 'x' }, 'invalid_request'],
        ['no refresh_token', { grant_type: 'refresh_token' }, 'invalid_request'],
        ['repeated refresh_token', 'grant_type=refresh_token&refresh_token=a&refresh_token=b', 'invalid_request'],
      ];
      for (const [what, form, error] of cases) {
        const res = await fetch(`${emulator.baseURL}/oauth2/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: basic(EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET),
          },
          body: typeof form === 'string' ? form : new URLSearchParams(form).toString(),
        });
        expect(res.status, what).to.equal(400);
        expect(res.headers.get('cache-control'), what).to.equal('no-store');
        expect(await res.json(), what).to.have.property('error', error);
      }
      const json = await fetch(`${emulator.baseURL}/oauth2/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: basic(EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET),
        },
        body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: emulator.issueGrant().refreshToken }),
      });
      expect(json.status).to.equal(400);
      expect(await json.json()).to.have.property('error', 'invalid_request');
      const get = await fetch(`${emulator.baseURL}/oauth2/token`);
      expect(get.status).to.equal(405);
      expect(get.headers.get('allow')).to.equal('POST');
    });

    it('caps the body at 16 KiB with 413', async () => {
      const res = await postForm(emulator, '/oauth2/token', {
        grant_type: 'refresh_token',
        refresh_token: 'x'.repeat(20_000),
      });
      expect(res.status).to.equal(413);
      expect(res.body.error).to.equal('invalid_request');
      expect(
        (await postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: 'x'.repeat(16_000) }))
          .status,
      ).to.equal(400);
    });
  });

  describe('refresh', () => {
    it('rotates: new tokens each time, and the presented refresh token then fails with invalid_grant', async () => {
      const grant = emulator.issueGrant();
      const first = await refresh(grant.refreshToken);
      expect(first.status).to.equal(200);
      expect(first.body.refresh_token).to.not.equal(grant.refreshToken);
      expect(first.body.access_token).to.not.equal(grant.accessToken);
      expect(emulator.grantStatus(grant.refreshToken)).to.equal('rotated');
      expect(emulator.grantStatus(first.body.refresh_token)).to.equal('active');

      const reuse = await refresh(grant.refreshToken);
      expect(reuse.status).to.equal(400);
      expect(reuse.body.error).to.equal('invalid_grant');
      expect(emulator.counters.invalidGrant).to.equal(1);
      expect(emulator.grantStatus(first.body.refresh_token), 'reuse alone does not revoke by default').to.equal(
        'active',
      );

      expect((await refresh(first.body.refresh_token)).status).to.equal(200);
      expect(emulator.counters.grants.refresh_token).to.equal(3);
      expect(emulator.counters.tokensIssued).to.equal(2);
      // Bearer tokens live until their own expiry, rotation or not.
      expect((await api(emulator, '/me', grant.accessToken)).status).to.equal(200);
      now += 3_600_000;
      expect((await api(emulator, '/me', grant.accessToken)).status).to.equal(401);
    });

    it('lets a rotated refresh token work again within refreshTokenReuseGrace of its rotation, and not after', async () => {
      emulator.configure({ refreshTokenReuseGrace: 5_000 });
      const grant = emulator.issueGrant();
      const a = await refresh(grant.refreshToken);
      now += 4_999;
      const b = await refresh(grant.refreshToken);
      expect([a.status, b.status]).to.deep.equal([200, 200]);
      expect(b.body.refresh_token).to.not.equal(a.body.refresh_token);
      now += 1;
      expect((await refresh(grant.refreshToken)).body.error).to.equal('invalid_grant');
      expect(emulator.grantStatus(grant.refreshToken)).to.equal('rotated');
    });

    it('with revokeOnReuse, revokes the whole grant when a rotated refresh token comes back', async () => {
      emulator.configure({ revokeOnReuse: true });
      const grant = emulator.issueGrant();
      const first = await refresh(grant.refreshToken);
      expect((await refresh(grant.refreshToken)).body.error).to.equal('invalid_grant');
      expect(emulator.grantStatus(first.body.refresh_token)).to.equal('revoked');
      expect((await api(emulator, '/me', first.body.access_token)).status).to.equal(401);
    });

    it("refuses another client's refresh token without harming it", async () => {
      const grant = emulator.issueGrant('1001', 'fleet:app+1');
      const res = await refresh(grant.refreshToken);
      expect(res.body.error).to.equal('invalid_grant');
      expect(emulator.grantStatus(grant.refreshToken)).to.equal('active');
    });

    it('issues access tokens for accessTokenTtl seconds, as configured', async () => {
      emulator.configure({ accessTokenTtl: 60 });
      const res = await refresh(emulator.issueGrant().refreshToken);
      expect(res.body.expires_in).to.equal(60);
      now += 59_999;
      expect((await api(emulator, '/me', res.body.access_token)).status).to.equal(200);
      now += 1;
      expect((await api(emulator, '/me', res.body.access_token)).status).to.equal(401);
      expect(() => emulator.configure({ accessTokenTtl: 1.5 })).to.throw(RangeError);
    });
  });

  describe('revoke (RFC 7009), per grant', () => {
    // These pin down one grant's token family; emulator.revocation.test.ts covers the organization-wide default.
    beforeEach(() => emulator.configure({ revocation: 'grant' }));

    it('revokes the whole grant from its refresh token: refresh and every access token of it', async () => {
      const grant = emulator.issueGrant();
      const rotated = await refresh(grant.refreshToken);
      const res = await postForm(emulator, '/oauth2/revoke', {
        token: rotated.body.refresh_token,
        token_type_hint: 'refresh_token',
      });
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({});
      expect(emulator.grantStatus(rotated.body.refresh_token)).to.equal('revoked');
      expect((await api(emulator, '/me', grant.accessToken)).status).to.equal(401);
      expect((await api(emulator, '/me', rotated.body.access_token)).status).to.equal(401);
      expect((await refresh(rotated.body.refresh_token)).body.error).to.equal('invalid_grant');
      expect(emulator.activeGrants()).to.equal(0);
    });

    it('revokes the whole grant from an access token too, whatever the hint says', async () => {
      const grant = emulator.issueGrant();
      expect(
        (await postForm(emulator, '/oauth2/revoke', { token: grant.accessToken, token_type_hint: 'refresh_token' }))
          .status,
      ).to.equal(200);
      expect(emulator.grantStatus(grant.refreshToken)).to.equal('revoked');
    });

    it('answers 200 {} for an unknown token, 400 without one, 401 without Basic', async () => {
      expect((await postForm(emulator, '/oauth2/revoke', { token: 'no-such-token' })).body).to.deep.equal({});
      const missing = await postForm(emulator, '/oauth2/revoke', {});
      expect([missing.status, missing.body.error]).to.deep.equal([400, 'invalid_request']);
      const anonymous = await postForm(emulator, '/oauth2/revoke', { token: emulator.issueGrant().refreshToken }, null);
      expect([anonymous.status, anonymous.body.error]).to.deep.equal([401, 'invalid_client']);
      expect(emulator.activeGrants(), 'the anonymous request revoked nothing').to.equal(1);
      expect(emulator.counters.revocations).to.equal(3);
    });

    it("refuses to revoke another client's token", async () => {
      const grant = emulator.issueGrant('1001', 'fleet:app+1');
      const res = await postForm(emulator, '/oauth2/revoke', { token: grant.refreshToken });
      expect([res.status, res.body.error]).to.deep.equal([400, 'invalid_grant']);
      expect(emulator.grantStatus(grant.refreshToken)).to.equal('active');
    });
  });
});
