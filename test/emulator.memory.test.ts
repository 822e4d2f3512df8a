import { expect } from 'chai';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { api, codeFor, postForm } from './support/raw-oauth.js';

// The emulator's memory stays bounded under load: what no client can use any more is swept once
// its maps pass 1 000 entries, and what is still usable survives the sweep. Below that threshold
// it keeps everything, so that tests can still ask about rotated and expired tokens.

describe('Samsara emulator: bounded memory', () => {
  let emulator: SamsaraEmulator;
  let now: number;

  beforeEach(async () => {
    now = Date.parse('2025-03-01T12:00:00Z');
    emulator = await startSamsaraEmulator({ autoApprove: true, codeTtl: 60, accessTokenTtl: 60, clock: () => now });
  });
  afterEach(() => emulator.stop());

  it('sweeps expired codes: anonymous authorize requests cannot grow it without bound', async () => {
    for (let i = 0; i < 2_500; i++) {
      await codeFor(emulator);
      if (i % 500 === 499) now += 61_000; // every code so far has expired
    }
    const { codes } = emulator.stored();
    expect(codes, 'at most the codes issued since the last expiry, plus a threshold').to.be.at.most(1_500);
    const fresh = await codeFor(emulator);
    const exchanged = await postForm(emulator, '/oauth2/token', { grant_type: 'authorization_code', code: fresh });
    expect(exchanged.status, 'a live code survives the sweeps').to.equal(200);
  });

  it('sweeps rotated refresh tokens, expired access tokens and idle rate windows, and keeps the live grant', async () => {
    const grant = emulator.issueGrant();
    let refreshToken = grant.refreshToken;
    const first = refreshToken;
    let accessToken = grant.accessToken;
    for (let i = 0; i < 1_200; i++) {
      const res = await postForm(emulator, '/oauth2/token', {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
      });
      expect(res.status).to.equal(200);
      ({ refresh_token: refreshToken, access_token: accessToken } = res.body as Record<string, string>);
      expect((await api(emulator, '/me', accessToken)).status).to.equal(200);
      now += 100;
      if (i === 10) expect(emulator.grantStatus(first), 'kept while the maps are small').to.equal('rotated');
      if (i % 100 === 99) now += 61_000; // the access tokens so far expire, their rate windows go quiet
    }
    const stored = emulator.stored();
    expect(stored.refreshTokens, 'rotated-out refresh tokens swept').to.be.below(1_000);
    expect(stored.accessTokens, 'expired access tokens swept').to.be.below(1_000);
    expect(stored.rateWindows).to.be.below(1_000);
    expect(emulator.grantStatus(first), 'swept').to.equal('unknown');
    expect(emulator.grantStatus(refreshToken)).to.equal('active');
    expect(emulator.activeGrants()).to.equal(1);
    expect((await api(emulator, '/me', accessToken)).status, 'its last access token has expired').to.equal(401);
    const again = await postForm(emulator, '/oauth2/token', {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
    });
    expect(again.status, 'the current refresh token works').to.equal(200);
    expect((await api(emulator, '/me', (again.body as { access_token: string }).access_token)).status).to.equal(200);
  });

  it('counts its 429s by the window that refused them', async () => {
    emulator.configure({ vehiclesRateLimit: 2 });
    const { accessToken } = emulator.issueGrant();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await api(emulator, '/fleet/vehicles?limit=1', accessToken)).status);
    expect(statuses).to.deep.equal([200, 200, 429, 429]);
    expect(emulator.counters.rateLimited).to.equal(2);
    expect(emulator.counters.rateLimitedBy).to.deep.equal({ token: 0, organization: 0, endpoint: 2 });
    emulator.resetCounters();
    expect(emulator.counters.rateLimitedBy.endpoint).to.equal(0);
  });
});
