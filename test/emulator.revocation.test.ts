import { expect } from 'chai';
import {
  EMULATOR_CLIENT_ID,
  EMULATOR_CLIENT_SECRET,
  startSamsaraEmulator,
  type SamsaraEmulator,
} from 'passport-samsara/testing';
import { REDIRECT, api, basic, codeFor, postForm } from './support/raw-oauth.js';

// What one POST /oauth2/revoke reaches is not confirmed for Samsara (SAMSARA.md): one grant (RFC 7009's
// token family) or every grant of the organization. The emulator plays both; 'organization' is the default.

describe('Samsara emulator: what a revoke reaches', () => {
  let emulator: SamsaraEmulator;

  beforeEach(async () => {
    emulator = await startSamsaraEmulator({
      autoApprove: true,
      clients: [
        { clientId: EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET },
        { clientId: 'other-app', clientSecret: 'other-secret' },
      ],
      organizations: [
        { id: '1001', name: "Charlie's Dining Services" },
        { id: '2002', name: 'Acme Freight' },
      ],
    });
  });
  afterEach(() => emulator.stop());

  const revoke = (token: string) => postForm(emulator, '/oauth2/revoke', { token });
  const refresh = (refreshToken: string) =>
    postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: refreshToken });

  describe("'organization' (the default)", () => {
    it("revokes every grant of the token's organization issued to the same client, and nothing else", async () => {
      const a = emulator.issueGrant('1001');
      const b = emulator.issueGrant('1001');
      const otherOrg = emulator.issueGrant('2002');
      const otherClient = emulator.issueGrant('1001', 'other-app');
      const res = await revoke(a.refreshToken);
      expect([res.status, res.body]).to.deep.equal([200, {}]);
      expect(emulator.grantStatus(a.refreshToken)).to.equal('revoked');
      expect(emulator.grantStatus(b.refreshToken)).to.equal('revoked');
      expect((await api(emulator, '/me', b.accessToken)).status).to.equal(401);
      expect((await refresh(b.refreshToken)).body.error).to.equal('invalid_grant');
      expect(emulator.grantStatus(otherOrg.refreshToken)).to.equal('active');
      expect(emulator.grantStatus(otherClient.refreshToken)).to.equal('active');
      expect(emulator.activeGrants('1001'), "the other client's grant").to.equal(1);
      expect(emulator.activeGrants('2002')).to.equal(1);
    });

    it("reaches the organization from an access token, and from a grant's newest refresh token only", async () => {
      const a = emulator.issueGrant('1001');
      const b = emulator.issueGrant('1001');
      await revoke(a.accessToken);
      expect(emulator.grantStatus(b.refreshToken)).to.equal('revoked');

      const c = emulator.issueGrant('1001');
      const d = emulator.issueGrant('1001');
      const rotated = await refresh(c.refreshToken);
      expect(rotated.status).to.equal(200);
      await revoke(c.refreshToken); // rotated out: a spent token is no valid token, it reaches nothing
      expect(emulator.grantStatus(rotated.body.refresh_token)).to.equal('active');
      expect(emulator.grantStatus(d.refreshToken)).to.equal('active');
      await revoke(rotated.body.refresh_token);
      expect(emulator.grantStatus(rotated.body.refresh_token)).to.equal('revoked');
      expect(emulator.grantStatus(d.refreshToken)).to.equal('revoked');
    });

    it('spares grants made after the revoke, even from a later revoke of a dead token', async () => {
      const old = emulator.issueGrant('1001');
      await revoke(old.refreshToken);
      const signedInAgain = await postForm(emulator, '/oauth2/token', {
        grant_type: 'authorization_code',
        code: await codeFor(emulator),
        redirect_uri: REDIRECT,
      });
      expect(signedInAgain.status).to.equal(200);
      // Disconnect revoking every grant it still holds, the dead one included:
      expect((await revoke(old.refreshToken)).status).to.equal(200);
      expect((await revoke(old.accessToken)).status).to.equal(200);
      expect(emulator.grantStatus(signedInAgain.body.refresh_token)).to.equal('active');
      expect((await api(emulator, '/me', signedInAgain.body.access_token)).status).to.equal(200);
    });

    it("still refuses another client's token and revokes nothing then", async () => {
      const mine = emulator.issueGrant('1001');
      const theirs = emulator.issueGrant('1001', 'other-app');
      const res = await revoke(theirs.refreshToken);
      expect([res.status, res.body.error]).to.deep.equal([400, 'invalid_grant']);
      expect(emulator.activeGrants('1001')).to.equal(2);
      expect(emulator.grantStatus(mine.refreshToken)).to.equal('active');
    });

    it('keeps a replayed code and refresh-token reuse per grant: those are no revoke requests', async () => {
      emulator.configure({ revokeOnReuse: true });
      const sibling = emulator.issueGrant('1001');
      const code = await codeFor(emulator);
      const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT };
      const first = await postForm(emulator, '/oauth2/token', form);
      expect((await postForm(emulator, '/oauth2/token', form)).body.error).to.equal('invalid_grant');
      expect(emulator.grantStatus(first.body.refresh_token)).to.equal('revoked');
      expect(emulator.grantStatus(sibling.refreshToken)).to.equal('active');

      const reused = emulator.issueGrant('1001');
      await refresh(reused.refreshToken);
      expect((await refresh(reused.refreshToken)).body.error).to.equal('invalid_grant');
      expect(emulator.grantStatus(reused.refreshToken)).to.equal('revoked');
      expect(emulator.grantStatus(sibling.refreshToken)).to.equal('active');
    });
  });

  describe("'grant'", () => {
    it('revokes only the grant the token belongs to, and all its tokens, from its newest refresh token', async () => {
      emulator.configure({ revocation: 'grant' });
      const a = emulator.issueGrant('1001');
      const b = emulator.issueGrant('1001');
      const rotated = await refresh(a.refreshToken);
      await revoke(a.refreshToken); // spent: reaches nothing
      expect(emulator.grantStatus(rotated.body.refresh_token)).to.equal('active');
      await revoke(rotated.body.refresh_token);
      expect(emulator.grantStatus(rotated.body.refresh_token)).to.equal('revoked');
      expect((await api(emulator, '/me', a.accessToken)).status).to.equal(401);
      expect((await api(emulator, '/me', rotated.body.access_token)).status).to.equal(401);
      expect(emulator.grantStatus(b.refreshToken)).to.equal('active');
      expect((await api(emulator, '/me', b.accessToken)).status).to.equal(200);
      expect(emulator.activeGrants('1001')).to.equal(1);
    });

    it('is an option at start, and configure() switches it while running', async () => {
      const perGrant = await startSamsaraEmulator({ revocation: 'grant' });
      try {
        const [a, b] = [perGrant.issueGrant(), perGrant.issueGrant()];
        await postForm(
          perGrant,
          '/oauth2/revoke',
          { token: a.accessToken },
          basic(perGrant.clientID, perGrant.clientSecret),
        );
        expect([perGrant.grantStatus(a.refreshToken), perGrant.grantStatus(b.refreshToken)]).to.deep.equal([
          'revoked',
          'active',
        ]);
        perGrant.configure({ revocation: 'organization' });
        const c = perGrant.issueGrant();
        await postForm(
          perGrant,
          '/oauth2/revoke',
          { token: c.accessToken },
          basic(perGrant.clientID, perGrant.clientSecret),
        );
        expect(perGrant.grantStatus(b.refreshToken)).to.equal('revoked');
      } finally {
        await perGrant.stop();
      }
    });
  });

  it('refuses any other value, at start and in configure(), and then changes nothing', async () => {
    const err = await startSamsaraEmulator({ revocation: 'org' as never }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RangeError).with.property('message').that.includes("'grant' or 'organization'");
    expect(() => emulator.configure({ revocation: 'token' as never, latency: 5 })).to.throw(RangeError);
    const [a, b] = [emulator.issueGrant(), emulator.issueGrant()];
    await revoke(a.refreshToken);
    expect(emulator.grantStatus(b.refreshToken), 'still the default').to.equal('revoked');
  });

  describe('grantId()', () => {
    it('names the grant of an access or refresh token, the same across refreshes and after revocation', async () => {
      const a = emulator.issueGrant();
      const b = emulator.issueGrant();
      const id = emulator.grantId(a.refreshToken);
      expect(id).to.be.a('string');
      expect(emulator.grantId(a.accessToken)).to.equal(id);
      expect(emulator.grantId(b.refreshToken)).to.be.a('string').and.not.equal(id);
      const first = await refresh(a.refreshToken);
      const second = await refresh(first.body.refresh_token);
      for (const token of [
        first.body.access_token,
        first.body.refresh_token,
        second.body.access_token,
        second.body.refresh_token,
      ]) {
        expect(emulator.grantId(token)).to.equal(id);
      }
      await revoke(second.body.refresh_token);
      expect(emulator.grantId(a.refreshToken), 'rotated out and revoked, still known').to.equal(id);
    });

    it('gives undefined for a token the emulator never issued, a code included', async () => {
      expect(emulator.grantId('no-such-token')).to.equal(undefined);
      expect(emulator.grantId('')).to.equal(undefined);
      expect(emulator.grantId(await codeFor(emulator))).to.equal(undefined);
    });
  });
});
