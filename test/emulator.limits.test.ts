import { expect } from 'chai';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { api } from './support/raw-oauth.js';

// Samsara's rate limits beside the per-token one (emulator.api.test.ts): per organization, whatever
// the token, and per organization on the vehicles endpoints. The clock stands still unless moved.

describe('Samsara emulator: organization and endpoint rate limits', () => {
  let emulator: SamsaraEmulator;
  let now: number;
  let start: number;

  beforeEach(async () => {
    now = start = Date.parse('2025-03-01T12:00:00Z');
    emulator = await startSamsaraEmulator({
      clock: () => now,
      organizations: [
        { id: '1001', name: "Charlie's Dining Services", vehicleCount: 3 },
        { id: '2002', name: 'Acme Freight', vehicleCount: 3 },
      ],
      clients: [
        { clientId: 'samsara-emulator-client', clientSecret: 'samsara-emulator-secret' },
        { clientId: 'other-app', clientSecret: 'other-secret' },
      ],
    });
  });
  afterEach(() => emulator.stop());

  const statuses = async (count: number, path: string, token: string) => {
    const seen: number[] = [];
    for (let i = 0; i < count; i++) seen.push((await api(emulator, path, token)).status);
    return seen;
  };

  it("holds an organization to 200 requests a second across its tokens and apps, Samsara's default", async () => {
    const [a, b] = [emulator.issueGrant('1001'), emulator.issueGrant('1001')];
    const otherApp = emulator.issueGrant('1001', 'other-app');
    expect(await statuses(100, '/me', a.accessToken)).to.deep.equal(Array(100).fill(200));
    expect(await statuses(100, '/me', b.accessToken)).to.deep.equal(Array(100).fill(200));
    const limited = await api(emulator, '/me', otherApp.accessToken);
    expect(limited.status, 'a third token, of another app: the organization is out').to.equal(429);
    expect(limited.body).to.have.keys('message', 'requestId');
    expect(limited.body.message).to.match(/organization/);
    expect(limited.headers.get('retry-after')).to.equal('1.00000');
    expect((await api(emulator, '/me', emulator.issueGrant('2002').accessToken)).status, 'another org').to.equal(200);
    now = start + 1_000;
    expect((await api(emulator, '/me', otherApp.accessToken)).status, 'a second later').to.equal(200);
    expect(emulator.counters.rateLimited).to.equal(1);
  });

  it("holds each vehicles endpoint to 25 requests a second per organization, whatever the token, Samsara's default", async () => {
    const a = emulator.issueGrant('1001').accessToken;
    const b = emulator.issueGrant('1001').accessToken;
    const id = (await api(emulator, '/fleet/vehicles', a)).body.data[0].id as string;
    now = start + 100;
    expect(await statuses(24, '/fleet/vehicles?limit=1', b)).to.deep.equal(Array(24).fill(200));
    now = start + 600;
    const limited = await api(emulator, '/fleet/vehicles', a);
    expect(limited.status).to.equal(429);
    expect(limited.body.message).to.match(/GET \/fleet\/vehicles in this organization/);
    expect(limited.headers.get('retry-after'), 'until the first of the 25 leaves').to.equal('0.40000');
    expect((await api(emulator, '/me', a)).status, 'other endpoints have their budget').to.equal(200);
    expect(await statuses(25, `/fleet/vehicles/${id}`, b), 'the single vehicle too').to.deep.equal(Array(25).fill(200));
    expect((await api(emulator, `/fleet/vehicles/${id}`, a)).status).to.equal(429);
    expect((await api(emulator, '/fleet/vehicles', emulator.issueGrant('2002').accessToken)).status).to.equal(200);
    now = start + 1_000;
    expect((await api(emulator, '/fleet/vehicles', a)).status, 'the first request left the window').to.equal(200);
    expect((await api(emulator, '/fleet/vehicles', a)).status, 'the next ones are still in it').to.equal(429);
  });

  it('waits for the window that frees last, and names it', async () => {
    emulator.configure({ rateLimit: 2, vehiclesRateLimit: 1 });
    const token = emulator.issueGrant().accessToken;
    expect((await api(emulator, '/me', token)).status).to.equal(200); // token window: until +1000
    now = start + 400;
    expect((await api(emulator, '/fleet/vehicles', token)).status).to.equal(200); // endpoint window: until +1400
    now = start + 500;
    const both = await api(emulator, '/fleet/vehicles', token);
    expect([both.status, both.headers.get('retry-after')]).to.deep.equal([429, '0.90000']);
    expect(both.body.message).to.match(/GET \/fleet\/vehicles/);
    const tokenOnly = await api(emulator, '/me', token);
    expect([tokenOnly.status, tokenOnly.headers.get('retry-after')]).to.deep.equal([429, '0.50000']);
    expect(tokenOnly.body.message).to.match(/access token/);
  });

  it('counts a refused request in no window, so retrying through 429s does not push the wait back', async () => {
    emulator.configure({ orgRateLimit: 2 });
    const token = emulator.issueGrant().accessToken;
    expect(await statuses(2, '/me', token)).to.deep.equal([200, 200]);
    for (const at of [100, 300, 900]) {
      now = start + at;
      const res = await api(emulator, '/me', token);
      expect([res.status, res.headers.get('retry-after')]).to.deep.equal([429, ((1000 - at) / 1000).toFixed(5)]);
    }
    now = start + 1_000;
    expect(await statuses(3, '/me', token)).to.deep.equal([200, 200, 429]);
  });

  it('takes orgRateLimit and vehiclesRateLimit as options and through configure(), refusing what it cannot use', async () => {
    const low = await startSamsaraEmulator({ orgRateLimit: 2, vehiclesRateLimit: 1, clock: () => now });
    const walk = async (paths: string[], token: string) => {
      const seen: number[] = [];
      for (const path of paths) seen.push((await api(low, path, token)).status);
      return seen;
    };
    try {
      const token = low.issueGrant().accessToken;
      const paths = ['/fleet/vehicles?limit=1', '/fleet/vehicles?limit=1', '/me', '/me'];
      expect(await walk(paths, token)).to.deep.equal([200, 429, 200, 429]);
      now = start + 1_000;
      low.configure({ orgRateLimit: 3, vehiclesRateLimit: 2 });
      expect(await walk(paths, token)).to.deep.equal([200, 200, 200, 429]);
    } finally {
      await low.stop();
    }
    const bad = [
      { orgRateLimit: 0 },
      { vehiclesRateLimit: 0.5 },
      { orgRateLimit: Number.NaN },
      { vehiclesRateLimit: -1 },
    ];
    for (const changes of bad) expect(() => emulator.configure(changes), JSON.stringify(changes)).to.throw(RangeError);
    let refused: unknown;
    await startSamsaraEmulator({ vehiclesRateLimit: 0 }).catch((err: unknown) => (refused = err));
    expect(refused).to.be.instanceOf(RangeError);
  });
});
