import { expect } from 'chai';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { api } from './support/raw-oauth.js';

describe('Samsara emulator: /me and /fleet/vehicles', () => {
  let emulator: SamsaraEmulator;
  let now: number;

  beforeEach(async () => {
    now = Date.now();
    emulator = await startSamsaraEmulator({ clock: () => now, accessTokenTtl: 60 });
  });
  afterEach(() => emulator.stop());

  it('names the organization of the token on /me', async () => {
    const res = await api(emulator, '/me', emulator.issueGrant().accessToken);
    expect(res.status).to.equal(200);
    expect(res.body.data).to.include({ id: '1001', name: "Charlie's Dining Services" });
    expect(res.body.data.carrierSettings.dotNumber).to.equal(98231);
  });

  it('answers 401 {message, requestId} for a missing, unknown, expired or revoked token', async () => {
    const grant = emulator.issueGrant();
    for (const token of [undefined, 'not-a-token']) {
      const res = await api(emulator, '/me', token);
      expect(res.status).to.equal(401);
      expect(res.body.message).to.be.a('string');
      expect(res.body.requestId).to.match(/^[0-9a-f]{16}$/);
    }
    now += 61_000;
    expect((await api(emulator, '/me', grant.accessToken)).status).to.equal(401);
    expect(emulator.counters.unauthorized).to.equal(3);
  });

  it('expires live tokens on demand', async () => {
    const token = emulator.issueGrant().accessToken;
    emulator.expireAccessTokens('1001');
    expect((await api(emulator, '/me', token)).status).to.equal(401);
  });

  it('pages through every vehicle exactly once, ending with endCursor ""', async () => {
    const token = emulator.issueGrant().accessToken;
    const ids: string[] = [];
    let after = '';
    let pages = 0;
    for (;;) {
      const res = await api(emulator, `/fleet/vehicles?limit=500${after ? `&after=${after}` : ''}`, token);
      expect(res.status).to.equal(200);
      pages++;
      for (const v of res.body.data) {
        expect(v.id).to.be.a('string');
        expect(Date.parse(v.createdAtTime)).to.be.a('number').and.not.NaN;
        ids.push(v.id);
      }
      if (!res.body.pagination.hasNextPage) {
        expect(res.body.pagination.endCursor).to.equal('');
        break;
      }
      after = res.body.pagination.endCursor;
    }
    expect(pages).to.equal(3);
    expect(ids).to.have.length(1200);
    expect(new Set(ids).size).to.equal(1200);
    const first = (await api(emulator, '/fleet/vehicles?limit=1', token)).body.data[0];
    expect(first).to.include({ name: 'Fleet Truck #1' });
    expect(first.year).to.be.a('string');
    expect(first.vin).to.have.length(17);
  });

  it('defaults to 512 and rejects a limit outside 1..512 or a forged cursor with 400', async () => {
    const token = emulator.issueGrant().accessToken;
    expect((await api(emulator, '/fleet/vehicles', token)).body.data).to.have.length(512);
    for (const query of ['limit=0', 'limit=513', 'limit=abc', 'limit=1.5', 'after=garbage']) {
      const res = await api(emulator, `/fleet/vehicles?${query}`, token);
      expect(res.status, query).to.equal(400);
      expect(res.body.message).to.be.a('string');
    }
  });

  it('answers 404 and 405 in Samsara\'s error shape', async () => {
    const token = emulator.issueGrant().accessToken;
    expect((await api(emulator, '/fleet/nothing', token)).status).to.equal(404);
    const post = await fetch(`${emulator.url}/me`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(post.status).to.equal(405);
  });

  it('rate-limits per token with a fractional Retry-After', async () => {
    emulator.configure({ rateLimit: 3 });
    const token = emulator.issueGrant().accessToken;
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await api(emulator, '/me', token));
    expect(statuses.map((r) => r.status)).to.deep.equal([200, 200, 200, 429]);
    const retryAfter = statuses[3].headers.get('retry-after') as string;
    expect(retryAfter).to.match(/^\d+\.\d+$/);
    expect(Number.parseFloat(retryAfter)).to.be.greaterThan(0).and.at.most(1);
    expect(emulator.counters.rateLimited).to.equal(1);
    now += 1_001;
    expect((await api(emulator, '/me', token)).status).to.equal(200);
    // another token has its own budget
    emulator.configure({ rateLimit: 1 });
    expect((await api(emulator, '/me', emulator.issueGrant().accessToken)).status).to.equal(200);
  });

  it('applies api faults to /me as well', async () => {
    emulator.injectFault('api', { type: 'status', status: 500, body: 'Internal Server Error' });
    const res = await fetch(`${emulator.url}/me`, { headers: { authorization: `Bearer ${emulator.issueGrant().accessToken}` } });
    expect(res.status).to.equal(500);
    expect(emulator.counters.apiCalls).to.equal(1);
  });
});
