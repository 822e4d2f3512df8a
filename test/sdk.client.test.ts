import { Samsara, SamsaraClient, SamsaraError as SdkError } from '@samsarahq/samsara';
import { expect } from 'chai';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  MemoryTokenStore,
  OAuthClient,
  ReauthorizationRequiredError,
  SAMSARA_CHANNELS,
  TokenManager,
  samsaraErrorOf,
  type RateLimitEvent,
} from 'passport-samsara';
import { ConfigurationError, StoreUnavailableError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf, seedGrant } from './support/grants.js';

/** What an SDK call threw (or that it did not). */
async function thrown(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

describe('the official SDK (@samsarahq/samsara) on tokens.forOrg, against the emulator', function () {
  this.timeout(30_000);
  let emulator: SamsaraEmulator;
  let store: MemoryTokenStore;
  let tokens: TokenManager;

  beforeEach(async () => {
    emulator = await startSamsaraEmulator();
    store = new MemoryTokenStore();
    tokens = new TokenManager({ store, client: new OAuthClient({ ...clientOf(emulator), timeout: 2_000 }) });
  });
  afterEach(() => emulator.stop());

  it("reads the organization with a fresh token, at the organization's base URL", async () => {
    await seedGrant(emulator, store, '1001', 3600_000);
    const client = new SamsaraClient(tokens.forOrg('1001'));
    const info = await client.organizationInfo.getOrganizationInfo();
    expect(info.data).to.include({ id: '1001', name: "Charlie's Dining Services" });
    expect(emulator.counters.apiCalls).to.equal(1);
    expect(emulator.counters.tokenRequests).to.equal(0);
  });

  it('lists all 1200 vehicles with for await, across an access-token expiry in the middle, with one refresh', async () => {
    await seedGrant(emulator, store, '1001', 3600_000);
    const client = new SamsaraClient(tokens.forOrg('1001'));
    const ids = new Set<string>();
    let seen = 0;
    for await (const vehicle of await client.vehicles.list({ limit: 100 })) {
      ids.add(vehicle.id);
      // Samsara ends every token it issued: the next page meets a 401 with the token in hand.
      if (++seen === 350) emulator.expireAccessTokens('1001');
    }
    expect(seen).to.equal(1200);
    expect(ids.size).to.equal(1200);
    expect(emulator.counters.unauthorized).to.equal(1);
    expect(emulator.counters.grants.refresh_token).to.equal(1);
    expect(emulator.counters.apiCalls).to.equal(13); // 12 pages, one of them sent twice
  });

  for (const [where, expire] of [
    ['here (the stored expiry has passed)', async () => seedGrant(emulator, store, '1001', -1_000)],
    [
      'at Samsara only (each call meets a 401)',
      async () => {
        await seedGrant(emulator, store, '1001', 3600_000);
        emulator.expireAccessTokens('1001');
      },
    ],
  ] as const) {
    it(`25 concurrent SDK calls after the token expired ${where}: one refresh, no invalid_grant`, async () => {
      await expire();
      const client = new SamsaraClient(tokens.forOrg('1001'));
      const results = await Promise.all(
        Array.from({ length: 25 }, () => client.organizationInfo.getOrganizationInfo()),
      );
      expect(results.map((r) => r.data!.id)).to.deep.equal(Array(25).fill('1001'));
      expect(emulator.counters.grants.refresh_token).to.equal(1);
      expect(emulator.counters.invalidGrant).to.equal(0);
      const stored = (await store.get('1001'))!;
      expect(emulator.grantStatus(stored.refreshToken)).to.equal('active');
    });
  }

  it('a grant revoked at Samsara, found when its expired token is refreshed: the token supplier throws ReauthorizationRequiredError as it is', async () => {
    const seeded = await seedGrant(emulator, store, '1001', -1_000);
    await new OAuthClient(clientOf(emulator)).revoke(seeded.refreshToken);
    const client = new SamsaraClient(tokens.forOrg('1001'));
    const err = await thrown(client.organizationInfo.getOrganizationInfo());
    expect(err).to.be.instanceOf(ReauthorizationRequiredError);
    expect(err).to.have.property('code', 'SAMSARA_REAUTHORIZE');
    expect(err).to.have.property('key', '1001');
    expect(emulator.counters.apiCalls, 'nothing was sent').to.equal(0);
    expect(await store.get('1001')).to.equal(null);
  });

  it('a grant revoked in the middle of a listing: the SDK throws its 401, samsaraErrorOf finds ReauthorizationRequiredError, the next call throws it as it is', async () => {
    const seeded = await seedGrant(emulator, store, '1001', 3600_000);
    const client = new SamsaraClient(tokens.forOrg('1001'));
    let seen = 0;
    const err = await thrown(
      (async () => {
        for await (const _vehicle of await client.vehicles.list({ limit: 100 })) {
          if (++seen === 150) await new OAuthClient(clientOf(emulator)).revoke(seeded.refreshToken);
        }
      })(),
    );
    expect(seen).to.equal(200);
    // What the SDK itself throws: a fetch's own errors would reach here flattened, so the fetch
    // answered with a 401 in Samsara's shape, and kept the error behind it.
    expect(err).to.be.instanceOf(Samsara.UnauthorizedError);
    expect(err).to.have.property('statusCode', 401);
    expect((err as SdkError).body).to.have.property('code', 'SAMSARA_REAUTHORIZE');
    const reason = samsaraErrorOf(err);
    expect(reason).to.be.instanceOf(ReauthorizationRequiredError);
    expect(reason).to.have.property('key', '1001');
    expect(await store.get('1001')).to.equal(null);
    const next = await thrown(client.organizationInfo.getOrganizationInfo());
    expect(next).to.be.instanceOf(ReauthorizationRequiredError);
    expect(samsaraErrorOf(next)).to.equal(next);
  });

  it('waits a Retry-After of 1.5 s for 1.5 s (the SDK alone would wait 1 s), then reads', async () => {
    await seedGrant(emulator, store, '1001', 3600_000);
    const events: RateLimitEvent[] = [];
    const listener = (message: unknown): void => void events.push(message as RateLimitEvent);
    subscribe(SAMSARA_CHANNELS.rateLimit, listener);
    try {
      emulator.injectFault('api', {
        type: 'status',
        status: 429,
        headers: { 'retry-after': '1.5' },
        body: '{"message":"Rate limit exceeded"}',
        contentType: 'application/json',
      });
      const client = new SamsaraClient(tokens.forOrg('1001'));
      const started = performance.now();
      const info = await client.organizationInfo.getOrganizationInfo();
      const waited = performance.now() - started;
      expect(info.data!.id).to.equal('1001');
      expect(waited).to.be.at.least(1_500);
      expect(emulator.counters.apiCalls).to.equal(2);
      expect(events).to.have.length(1);
      expect(events[0]).to.include({ orgId: '1001', outcome: 'waiting', retryAfter: 1.5, durationMs: 1_500 });
    } finally {
      unsubscribe(SAMSARA_CHANNELS.rateLimit, listener);
    }
  });

  it("past maxRateLimitWait, answers the 429 with Retry-After rounded up, so that the SDK's parseInt never retries early", async () => {
    await seedGrant(emulator, store, '1001', 3600_000);
    emulator.injectFault('api', { type: 'status', status: 429, headers: { 'retry-after': '0.40235' } });
    const { fetch, baseUrl } = tokens.forOrg('1001', { maxRateLimitWait: 0 });
    const response = await fetch(`${await baseUrl()}/me`);
    expect(response.status).to.equal(429);
    expect(response.headers.get('retry-after')).to.equal('1');
    expect(await response.json()).to.have.property('code', 'SAMSARA_RATE_LIMITED');
  });

  it('answers a store failure with a 503 and Retry-After instead of throwing, keeping the error for samsaraErrorOf', async () => {
    const failing = new MemoryTokenStore();
    failing.get = async () => {
      throw new Error('connection refused');
    };
    const down = new TokenManager({ store: failing, client: clientOf(emulator) });
    const response = await down.forOrg('1001').fetch(`${emulator.baseURL}/me`);
    expect(response.status).to.equal(503);
    expect(response.headers.get('retry-after')).to.equal('1');
    expect(samsaraErrorOf({ rawResponse: { headers: response.headers } })).to.be.instanceOf(StoreUnavailableError);
    expect(emulator.counters.apiCalls).to.equal(0);
  });

  it('sends nothing outside the base URL: another port of the same host is refused before any request', async () => {
    await seedGrant(emulator, store, '1001', 3600_000);
    const other = await startSamsaraEmulator();
    try {
      const { fetch } = tokens.forOrg('1001');
      const err = await thrown(fetch(`${other.baseURL}/me`));
      expect(err).to.be.instanceOf(TypeError);
      expect(other.counters.apiCalls + emulator.counters.apiCalls).to.equal(0);
    } finally {
      await other.stop();
    }
  });

  it('refuses a bad maxRateLimitWait when the options are made, not at the first request', () => {
    for (const bad of [-1, NaN, Infinity]) {
      expect(() => tokens.forOrg('1001', { maxRateLimitWait: bad }), String(bad))
        .to.throw(ConfigurationError, /maxRateLimitWait/)
        .with.property('code', 'SAMSARA_CONFIG');
    }
  });

  it('never falls back to SAMSARA_API_KEY: an organization without credentials is ReauthorizationRequiredError', async () => {
    process.env.SAMSARA_API_KEY = emulator.issueGrant('1001').accessToken;
    try {
      const client = new SamsaraClient(tokens.forOrg('1001'));
      expect(await thrown(client.organizationInfo.getOrganizationInfo())).to.be.instanceOf(
        ReauthorizationRequiredError,
      );
      expect(emulator.counters.apiCalls).to.equal(0);
    } finally {
      delete process.env.SAMSARA_API_KEY;
    }
  });
});
