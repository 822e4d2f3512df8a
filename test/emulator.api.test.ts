import { expect } from 'chai';
import { startSamsaraEmulator, type EmulatedVehicle, type SamsaraEmulator } from 'passport-samsara/testing';
import { api, postForm } from './support/raw-oauth.js';

describe('Samsara emulator: /me and /fleet/vehicles', () => {
  let emulator: SamsaraEmulator;
  let now: number;

  beforeEach(async () => {
    now = Date.parse('2025-03-01T12:00:00Z');
    emulator = await startSamsaraEmulator({
      clock: () => now,
      accessTokenTtl: 60,
      // One revoked grant must not take the expired one down with it: each 401 below has its own cause.
      revocation: 'grant',
      organizations: [
        {
          id: '1001',
          name: "Charlie's Dining Services",
          carrierSettings: {
            carrierName: "Charlie's Dining",
            dotNumber: 98231,
            mainOfficeAddress: '1 Main St, San Francisco, CA',
          },
        },
        { id: '2002', name: 'Acme Freight', vehicleCount: 5 },
      ],
    });
  });
  afterEach(() => emulator.stop());

  /** Every vehicle of the token's org, page by page, checking each page's pagination. */
  async function walk(token: string, limit: number): Promise<{ vehicles: EmulatedVehicle[]; pages: number }> {
    const vehicles: EmulatedVehicle[] = [];
    let after: string | undefined;
    for (let pages = 1; ; pages++) {
      const res = await api(
        emulator,
        `/fleet/vehicles?limit=${limit}${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`,
        token,
      );
      expect(res.status).to.equal(200);
      vehicles.push(...res.body.data);
      const { endCursor, hasNextPage } = res.body.pagination;
      if (!hasNextPage) {
        expect(endCursor).to.equal('');
        return { vehicles, pages };
      }
      expect(res.body.data).to.have.length(limit);
      expect(endCursor).to.be.a('string').and.not.equal('');
      after = endCursor;
    }
  }

  it("names the token's organization on /me", async () => {
    const res = await api(emulator, '/me', emulator.issueGrant().accessToken);
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({
      data: {
        id: '1001',
        name: "Charlie's Dining Services",
        carrierSettings: {
          carrierName: "Charlie's Dining",
          dotNumber: 98231,
          mainOfficeAddress: '1 Main St, San Francisco, CA',
        },
      },
    });
    expect((await api(emulator, '/me', emulator.issueGrant('2002').accessToken)).body).to.deep.equal({
      data: { id: '2002', name: 'Acme Freight' },
    });
  });

  it('defaults to one organization, 1001, with about 1200 vehicles', async () => {
    const plain = await startSamsaraEmulator();
    try {
      const token = plain.issueGrant().accessToken;
      expect((await api(plain, '/me', token)).body.data).to.include({ id: '1001', name: "Charlie's Dining Services" });
      expect((await api(plain, '/me', token)).body.data.carrierSettings.dotNumber).to.be.a('number');
      let count = 0;
      for (let after = ''; ;) {
        const page = await api(plain, `/fleet/vehicles${after && `?after=${after}`}`, token);
        count += (page.body.data as unknown[]).length;
        if (!page.body.pagination.hasNextPage) break;
        after = page.body.pagination.endCursor;
      }
      expect(count).to.equal(1200);
    } finally {
      await plain.stop();
    }
  });

  it('answers 401 {message, requestId} for a missing, unknown, expired or revoked token', async () => {
    const expired = emulator.issueGrant();
    const revoked = emulator.issueGrant();
    await postForm(emulator, '/oauth2/revoke', { token: revoked.refreshToken });
    now += 30_000;
    const live = emulator.issueGrant();
    now += 30_000;
    const requestIds = new Set<string>();
    for (const token of [undefined, 'not-a-token', expired.accessToken, revoked.accessToken]) {
      const res = await api(emulator, '/me', token);
      expect(res.status, String(token)).to.equal(401);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(Object.keys(res.body).sort()).to.deep.equal(['message', 'requestId']);
      expect(res.body.message).to.be.a('string').and.not.equal('');
      requestIds.add(res.body.requestId);
    }
    expect(requestIds.size, 'a fresh requestId each time').to.equal(4);
    expect((await api(emulator, '/me', live.accessToken)).status).to.equal(200);
    expect(emulator.counters.unauthorized).to.equal(4);
    expect(emulator.counters.apiCalls).to.equal(5);
  });

  it('expires live access tokens on demand, per organization or all', async () => {
    const a = emulator.issueGrant('1001');
    const b = emulator.issueGrant('2002');
    emulator.expireAccessTokens('1001');
    expect((await api(emulator, '/me', a.accessToken)).status).to.equal(401);
    expect((await api(emulator, '/me', b.accessToken)).status).to.equal(200);
    emulator.expireAccessTokens();
    expect((await api(emulator, '/me', b.accessToken)).status).to.equal(401);
    const refreshed = await postForm(emulator, '/oauth2/token', {
      grant_type: 'refresh_token',
      refresh_token: a.refreshToken,
    });
    expect((await api(emulator, '/me', refreshed.body.access_token)).status, 'the grant itself lives on').to.equal(200);
  });

  it('pages through every vehicle exactly once, in order, ending with endCursor ""', async () => {
    const token = emulator.issueGrant().accessToken;
    const { vehicles, pages } = await walk(token, 500);
    expect(pages).to.equal(3);
    const ids = vehicles.map((v) => v.id);
    expect(ids).to.have.length(1200);
    expect(new Set(ids).size).to.equal(1200);
    // 172 pages within one second of a clock that stands still: not what this test is about.
    emulator.configure({ rateLimit: 1_000, orgRateLimit: 1_000, vehiclesRateLimit: 1_000 });
    const byLimit7 = await walk(token, 7);
    expect(byLimit7.pages).to.equal(Math.ceil(1200 / 7));
    expect(byLimit7.vehicles.map((v) => v.id)).to.deep.equal(ids);
    const exact = await walk(emulator.issueGrant('2002').accessToken, 5);
    expect([exact.pages, exact.vehicles.length], 'a last page that is exactly full ends the walk').to.deep.equal([
      1, 5,
    ]);
  });

  it('serves realistic, deterministic vehicles', async () => {
    const token = emulator.issueGrant().accessToken;
    const { vehicles } = await walk(token, 512);
    for (const v of vehicles) {
      expect(v.id).to.match(/^\d+$/);
      expect(v.createdAtTime).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    const full = vehicles.filter((v) => v.name !== undefined);
    expect(full.length).to.be.within(1100, 1199);
    expect(vehicles[0]).to.include({ name: 'Fleet Truck #1' });
    for (const v of full) {
      expect(v.year).to.match(/^20\d\d$/);
      expect(v.vin).to.match(/^[A-HJ-NPR-Z0-9]{17}$/);
      expect(v).to.include.keys('make', 'model', 'licensePlate', 'serial', 'gateway', 'updatedAtTime', 'vehicleType');
    }
    expect(vehicles.some((v) => v.tags?.[0]?.name)).to.equal(true);
    expect(vehicles.some((v) => v.staticAssignedDriver?.name)).to.equal(true);
    const again = await startSamsaraEmulator({ organizations: [{ id: '1001', name: 'Same id' }] });
    try {
      const page = await api(again, '/fleet/vehicles?limit=50', again.issueGrant().accessToken);
      expect(page.body.data).to.deep.equal(vehicles.slice(0, 50));
    } finally {
      await again.stop();
    }
  });

  it('defaults to 512 and rejects a limit outside 1..512, a forged cursor or another org’s cursor with 400', async () => {
    const token = emulator.issueGrant().accessToken;
    expect((await api(emulator, '/fleet/vehicles', token)).body.data).to.have.length(512);
    expect((await api(emulator, '/fleet/vehicles?limit=1', token)).body.data).to.have.length(1);
    const first = await api(emulator, '/fleet/vehicles?limit=2', token);
    const cursor = first.body.pagination.endCursor as string;
    const forged = Buffer.from(Buffer.from(cursor, 'base64url').toString().replace(/^2:/, '3:')).toString('base64url');
    const otherOrg = await api(emulator, '/fleet/vehicles?limit=2', emulator.issueGrant('2002').accessToken);
    for (const query of [
      'limit=0',
      'limit=513',
      'limit=abc',
      'limit=1.5',
      'limit=-1',
      'limit=',
      'after=garbage',
      `after=${forged}`,
      `after=${otherOrg.body.pagination.endCursor}`,
    ]) {
      const res = await api(emulator, `/fleet/vehicles?${query}`, token);
      expect(res.status, query).to.equal(400);
      expect(res.body.message, query).to.be.a('string');
      expect(res.body.requestId, query).to.be.a('string');
    }
    expect((await api(emulator, `/fleet/vehicles?limit=2&after=${cursor}`, token)).body.data[0]).to.include({
      name: 'Fleet Truck #3',
    });
  });

  it("answers 404 and 405 in Samsara's error shape, and counts only /me and /fleet/* as API calls", async () => {
    const token = emulator.issueGrant().accessToken;
    const missing = await api(emulator, '/fleet/nothing', token);
    expect(missing.status).to.equal(404);
    expect(missing.body).to.have.keys('message', 'requestId');
    const post = await fetch(`${emulator.baseURL}/me`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(post.status).to.equal(405);
    expect(post.headers.get('allow')).to.equal('GET');
    expect(await post.json()).to.have.keys('message', 'requestId');
    expect((await api(emulator, '/favicon.ico')).status).to.equal(404);
    expect(emulator.counters.apiCalls).to.equal(2);
  });

  it('rate-limits each access token over a sliding second, with a fractional Retry-After', async () => {
    emulator.configure({ rateLimit: 3 });
    const token = emulator.issueGrant().accessToken;
    const start = now;
    for (const at of [0, 100, 200]) {
      now = start + at;
      expect((await api(emulator, '/me', token)).status).to.equal(200);
    }
    now = start + 250;
    const limited = await api(emulator, '/me', token);
    expect(limited.status).to.equal(429);
    expect(limited.body).to.have.keys('message', 'requestId');
    expect(limited.headers.get('retry-after')).to.equal('0.75000');
    now = start + 999;
    expect((await api(emulator, '/fleet/vehicles?limit=1', token)).headers.get('retry-after')).to.equal('0.00100');
    expect(
      (await api(emulator, '/me', emulator.issueGrant().accessToken)).status,
      'another token has its own budget',
    ).to.equal(200);
    now = start + 1_000;
    expect((await api(emulator, '/me', token)).status, 'the first request has left the window').to.equal(200);
    expect((await api(emulator, '/me', token)).status).to.equal(429);
    expect(emulator.counters.rateLimited).to.equal(3);
  });
});
