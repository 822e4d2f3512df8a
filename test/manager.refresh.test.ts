import { expect } from 'chai';
import sinon from 'sinon';
import {
  MemoryTokenStore,
  OAuthClient,
  ReauthorizationRequiredError,
  TokenManager,
  type Credentials,
} from 'passport-samsara';
import { RefreshUnavailableError, RevokeFailedError, TokenRejectedError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { fakeClock, until } from './support/clock.js';
import { clientOf, seedGrant } from './support/grants.js';

describe('TokenManager: refreshing in one process', () => {
  let emulator: SamsaraEmulator;
  let store: MemoryTokenStore;
  let manager: TokenManager;

  beforeEach(async () => {
    emulator = await startSamsaraEmulator();
    store = new MemoryTokenStore();
    manager = new TokenManager({
      store,
      client: new OAuthClient({ ...clientOf(emulator), timeout: 400 }),
      retryDelay: 20,
    });
  });
  afterEach(() => emulator.stop());

  it('serves a fresh token without calling the token endpoint', async () => {
    const creds = await seedGrant(emulator, store, '1001', 3600_000);
    expect(await manager.accessToken('1001')).to.equal(creds.accessToken);
    expect(emulator.counters.tokenRequests).to.equal(0);
  });

  it('refreshes a token inside the skew window once, for 100 concurrent callers, and rotates the stored refresh token', async () => {
    const old = await seedGrant(emulator, store, '1001', 30_000); // valid, but inside the 60 s skew
    const tokens = await Promise.all(Array.from({ length: 100 }, () => manager.accessToken('1001')));
    expect(emulator.counters.grants.refresh_token).to.equal(1);
    const stored = (await store.get('1001')) as Credentials;
    expect(new Set(tokens).size).to.be.at.most(2); // the old one while the refresh ran, then the new one
    expect(tokens[tokens.length - 1]).to.be.oneOf([stored.accessToken, old.accessToken]);
    expect(stored.accessToken).to.not.equal(old.accessToken);
    expect(stored.refreshToken).to.not.equal(old.refreshToken);
    expect(stored.version).to.equal(old.version + 1);
    expect(stored.expiresAt).to.be.closeTo(Date.now() + 3600_000, 5_000);
    expect(emulator.grantStatus(old.refreshToken)).to.equal('rotated');
    expect(emulator.grantStatus(stored.refreshToken)).to.equal('active');
  });

  it('refreshes when the clock reaches expiry minus the skew, not a millisecond before', async () => {
    const clock = fakeClock();
    store = new MemoryTokenStore({ clock });
    manager = new TokenManager({ store, clock, client: manager.client, skew: 60_000 });
    const grant = emulator.issueGrant('1001');
    const old = await manager.connect('1001', {
      accessToken: grant.accessToken,
      refreshToken: grant.refreshToken,
      expiresAt: clock.now() + 61_000,
    });
    await clock.tick(999);
    expect(await manager.accessToken('1001')).to.equal(old.accessToken);
    expect(emulator.counters.tokenRequests).to.equal(0);
    await clock.tick(1);
    expect(await manager.accessToken('1001')).to.not.equal(old.accessToken);
    expect(emulator.counters.grants.refresh_token).to.equal(1);
  });

  it('makes every caller wait for the new token when the old one has expired', async () => {
    await seedGrant(emulator, store);
    const tokens = await Promise.all(Array.from({ length: 50 }, () => manager.accessToken('1001')));
    const stored = (await store.get('1001')) as Credentials;
    expect(new Set(tokens)).to.deep.equal(new Set([stored.accessToken]));
    expect(emulator.counters.grants.refresh_token).to.equal(1);
  });

  it('refreshes a token the API rejected, once, unless the store already moved on', async () => {
    const old = await seedGrant(emulator, store, '1001', 3600_000);
    const [a, b] = await Promise.all([
      manager.accessToken('1001', { rejected: old.accessToken }),
      manager.accessToken('1001', { rejected: old.accessToken }),
    ]);
    expect(a).to.equal(b).and.not.equal(old.accessToken);
    expect(await manager.accessToken('1001', { rejected: old.accessToken })).to.equal(a);
    expect(emulator.counters.grants.refresh_token).to.equal(1);
  });

  it('raises ReauthorizationRequiredError and deletes the credentials when the grant is dead', async () => {
    const creds = await seedGrant(emulator, store);
    await new OAuthClient({ ...clientOf(emulator) }).revoke(creds.refreshToken);
    const err = await manager.accessToken('1001').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ReauthorizationRequiredError);
    expect(err).to.include({ code: 'SAMSARA_REAUTHORIZE', status: 401, key: '1001' });
    expect((err as Error).message)
      .to.include('invalid_grant')
      .and.not.include(creds.refreshToken);
    expect(await store.get('1001')).to.equal(null);
  });

  it('raises ReauthorizationRequiredError for an organization with no credentials', async () => {
    const err = await manager.accessToken('nobody').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ReauthorizationRequiredError);
    expect(emulator.counters.tokenRequests).to.equal(0);
  });

  it('retries transient failures with backoff and then succeeds', async () => {
    const clock = fakeClock();
    store = new MemoryTokenStore({ clock });
    manager = new TokenManager({ store, clock, client: manager.client, retryDelay: 200 });
    await seedGrant(emulator, store);
    emulator.injectFault('token', { type: 'status', status: 503, body: 'busy', contentType: 'text/plain' }, 2);
    // The jitter (0.5 + random) times the backoff, held at its middle: retryDelay * 2^n exactly.
    const random = sinon.stub(Math, 'random').returns(0.5);
    try {
      const token = manager.accessToken('1001');
      for (const [n, delay] of [
        [1, 200],
        [2, 400],
      ] as const) {
        await clock.waiting();
        expect(emulator.counters.tokenRequests).to.equal(n);
        await clock.tick(delay - 1);
        expect(clock.pending(), `backoff ${n} not over before ${delay} ms`).to.equal(1);
        await clock.tick(1);
        expect(clock.pending(), `backoff ${n} over at ${delay} ms`).to.equal(0);
      }
      expect(await token).to.equal((await store.get('1001'))!.accessToken);
    } finally {
      random.restore();
    }
    expect(emulator.counters.tokenRequests).to.equal(3);
  });

  it('serves the old token while it is still valid when the token endpoint keeps failing', async () => {
    const clock = fakeClock();
    store = new MemoryTokenStore({ clock });
    // Every request hangs, so any timeout proves the point: a short one.
    manager = new TokenManager({ store, clock, client: new OAuthClient({ ...clientOf(emulator), timeout: 100 }) });
    const old = await seedGrant(emulator, store, '1001', 30_000);
    emulator.injectFault('token', { type: 'hang' }, 3);
    const token = manager.accessToken('1001');
    // Two jittered backoffs of retryDelay (200) and twice that: 300 to 900 ms.
    expect(await clock.timeTaken(token)).to.be.within(300, 900);
    expect(await token).to.equal(old.accessToken);
    expect(emulator.counters.tokenRequests).to.equal(3);
    expect(await store.get('1001')).to.deep.equal(old);
  });

  it('fails with RefreshUnavailableError (503) when the token endpoint keeps failing and the token has expired', async () => {
    const old = await seedGrant(emulator, store);
    emulator.injectFault('token', { type: 'status', status: 502, body: 'bad gateway', contentType: 'text/plain' }, 3);
    const err = await manager.accessToken('1001').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RefreshUnavailableError);
    expect(err).to.include({ code: 'SAMSARA_REFRESH_TIMEOUT', status: 503 });
    expect(emulator.counters.tokenRequests).to.equal(3);
    expect(await store.get('1001'), 'nothing is dropped while it may still work').to.deep.equal(old);
  });

  it('reports a refused client as TokenRejectedError (500: our configuration) and keeps the credentials', async () => {
    const old = await seedGrant(emulator, store);
    emulator.injectFault('token', {
      type: 'status',
      status: 401,
      body: '{"error":"invalid_client"}',
      contentType: 'application/json',
    });
    const err = await manager.accessToken('1001').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TokenRejectedError);
    expect(err).to.include({
      code: 'SAMSARA_TOKEN_REJECTED',
      oauthError: 'invalid_client',
      status: 500,
      transient: false,
    });
    expect(await store.get('1001')).to.deep.equal(old);
  });

  it('revokes the grant at Samsara and leaves no credentials', async () => {
    const creds = await seedGrant(emulator, store, '1001', 3600_000);
    await manager.revoke('1001');
    expect(emulator.counters.revocations).to.equal(1);
    expect(emulator.grantStatus(creds.refreshToken)).to.equal('revoked');
    expect(await store.get('1001')).to.equal(null);
    await manager.revoke('1001'); // nothing left: a no-op
    expect(emulator.counters.revocations).to.equal(1);
  });

  it('keeps a grant whose revoke request fails (still working, still connected), says so, and revokes it on a retry', async () => {
    const seeded = await seedGrant(emulator, store, '1001', 3600_000);
    emulator.injectFault('revoke', { type: 'status', status: 500, body: 'oops', contentType: 'text/plain' });
    const err = await manager.revoke('1001').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RevokeFailedError);
    expect(await store.get('1001')).to.deep.equal(seeded);
    expect(emulator.grantStatus(seeded.refreshToken)).to.equal('active');
    await manager.revoke('1001');
    expect(await store.get('1001')).to.equal(null);
    expect(emulator.grantStatus(seeded.refreshToken)).to.equal('revoked');
  });

  it('revokes the newest refresh token when a revoke races a refresh', async () => {
    await seedGrant(emulator, store);
    emulator.injectFault('token', { type: 'delay', ms: 150 });
    const refreshing = manager.accessToken('1001').then(
      (token) => ({ token }),
      (err: unknown) => ({ err }),
    );
    await until(() => emulator.counters.tokenRequests === 1, 'the refresh to reach the token endpoint');
    await manager.revoke('1001');
    await refreshing;
    expect(await store.get('1001')).to.equal(null);
    expect(emulator.activeGrants('1001')).to.equal(0);
    expect(emulator.counters.revocations).to.equal(1);
  });

  it('gives a caller whose token was rejected a refresh of its own, even when it joined a flight that served the old token', async () => {
    const clock = fakeClock();
    store = new MemoryTokenStore({ clock });
    manager = new TokenManager({ store, clock, client: manager.client });
    const old = await seedGrant(emulator, store, '1001', 30_000); // still valid, inside the skew
    const foreign = (await store.lock('1001', 5_000))!; // another process is refreshing
    const calls = Promise.all([
      manager.accessToken('1001'),
      manager.accessToken('1001', { rejected: old.accessToken }),
    ]);
    await clock.waiting(); // the caller with the rejected token waits for the other process
    await foreign.release();
    expect(await clock.timeTaken(calls), 'woken by the release, not by time').to.equal(0);
    const [relaxed, rejected] = await calls;
    expect(relaxed).to.equal(old.accessToken);
    expect(rejected).to.not.equal(old.accessToken);
    expect(rejected).to.equal((await store.get('1001'))!.accessToken);
    expect(emulator.counters.grants.refresh_token).to.equal(1);
  });

  it('revokes nothing and returns at once when the credentials are already gone and another process holds the lock', async () => {
    const clock = fakeClock();
    store = new MemoryTokenStore({ clock });
    manager = new TokenManager({ store, clock, client: manager.client });
    const seeded = await seedGrant(emulator, store, '1001', 3600_000);
    await store.forget('1001', [seeded]);
    const foreign = (await store.lock('1001', 5_000))!;
    const revoking = manager.revoke('1001');
    expect(await clock.timeTaken(revoking), 'fake ms waited').to.equal(0);
    await revoking;
    expect(emulator.counters.revocations).to.equal(0);
    await foreign.release();
  });

  it('a sign-out makes a dead-grant tombstone final: a late writer cannot bring the grant back', async () => {
    const seeded = await seedGrant(emulator, store);
    await store.remove('1001', seeded.version); // another process found the grant dead
    await manager.revoke('1001');
    const late = await store.update('1001', { ...seeded, accessToken: 'late', refreshToken: 'late' }, seeded.version);
    expect(late).to.equal(null);
    expect(await store.get('1001')).to.equal(null);
  });

  it('does not retry a non-OAuth 4xx from the token endpoint, and keeps the credentials', async () => {
    const old = await seedGrant(emulator, store);
    emulator.injectFault('token', {
      type: 'status',
      status: 400,
      body: '{"message":"Bad Request","requestId":"r"}',
      contentType: 'application/json',
    });
    const err = await manager.accessToken('1001').catch((e: unknown) => e);
    expect(err).to.include({ code: 'SAMSARA_UPSTREAM', status: 502 });
    expect(emulator.counters.tokenRequests).to.equal(1);
    expect(await store.get('1001')).to.deep.equal(old);
  });

  it('a token response lost after Samsara rotated: fatal under strict rotation, recovered by a retry within a reuse grace', async () => {
    await seedGrant(emulator, store);
    emulator.injectFault('token', { type: 'drop-after-grant' });
    expect(await manager.accessToken('1001').catch((e: unknown) => e)).to.be.instanceOf(ReauthorizationRequiredError);
    expect(await store.get('1001')).to.equal(null);

    await seedGrant(emulator, store);
    emulator.configure({ refreshTokenReuseGrace: 10_000 });
    emulator.injectFault('token', { type: 'drop-after-grant' });
    const token = await manager.accessToken('1001');
    expect(token).to.equal((await store.get('1001'))!.accessToken);
  });

  it('refuses a lock ttl that a token request could outlive', () => {
    expect(() => new TokenManager({ store, client: manager.client, lockTtl: 500 })).to.throw(/lockTtl/);
  });
});
