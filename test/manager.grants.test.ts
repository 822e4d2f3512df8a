import { expect } from 'chai';
import {
  MemoryTokenStore,
  ReauthorizationRequiredError,
  TokenManager,
  type GrantTokens,
  type RevocationScope,
} from 'passport-samsara';
import { ConfigurationError, RefreshUnavailableError, StoreUnavailableError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { fakeClock, fakeTimersPromises, until } from './support/clock.js';
import { clientOf } from './support/grants.js';

/** A grant the emulator issued, as the code exchange would have returned it. */
function issue(emulator: SamsaraEmulator, expiresInMs = 3600_000): GrantTokens {
  const grant = emulator.issueGrant('1001');
  return {
    accessToken: grant.accessToken,
    refreshToken: grant.refreshToken,
    expiresAt: Date.now() + expiresInMs,
    scope: grant.scope,
  };
}

/** Whether Samsara (the emulator) accepts this access token. */
async function works(emulator: SamsaraEmulator, accessToken: string): Promise<boolean> {
  const res = await fetch(`${emulator.baseURL}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  await res.body?.cancel();
  return res.status === 200;
}

for (const scope of ['organization', 'grant'] as RevocationScope[]) {
  describe(`TokenManager: every grant kept or revoked (revocation reaches ${scope === 'grant' ? 'one grant' : 'the organization'})`, () => {
    let emulator: SamsaraEmulator;
    let store: MemoryTokenStore;
    let tokens: TokenManager;

    beforeEach(async () => {
      emulator = await startSamsaraEmulator({ revocation: scope });
      store = new MemoryTokenStore();
      tokens = new TokenManager({
        store,
        client: { ...clientOf(emulator), timeout: 1_000 },
        revocation: scope,
        retryDelay: 10,
      });
    });
    let pauses: { restore(): void } | undefined;
    afterEach(async () => {
      pauses?.restore();
      pauses = undefined;
      await tokens.idle();
      await emulator.stop();
    });

    it('repeated sign-ins keep the newest grant working, hold the others, and Disconnect leaves none live', async () => {
      const grants = [issue(emulator), issue(emulator), issue(emulator), issue(emulator)];
      for (const grant of grants) await tokens.connect('1001', grant);
      expect(await tokens.accessToken('1001')).to.equal(grants[3].accessToken);
      expect(await works(emulator, grants[3].accessToken)).to.equal(true);
      if (scope === 'grant') {
        expect(emulator.activeGrants('1001'), 'replaced grants are revoked at once').to.equal(1);
        expect(await store.retired('1001')).to.deep.equal([]);
      } else {
        expect(emulator.activeGrants('1001'), 'revoking a replaced grant would end the kept one').to.equal(4);
        expect((await store.retired('1001')).map((g) => g.refreshToken)).to.deep.equal(
          grants.slice(0, 3).map((g) => g.refreshToken),
        );
      }
      await tokens.revoke('1001');
      expect(emulator.activeGrants('1001')).to.equal(0);
      expect(await store.get('1001')).to.equal(null);
      expect(await store.retired('1001')).to.deep.equal([]);
    });

    it('bounds the retired grants per organization', async () => {
      const bounded = new TokenManager({ store, client: tokens.client, revocation: scope, maxRetiredGrants: 2 });
      for (let i = 0; i < 5; i++) await bounded.connect('1001', issue(emulator));
      expect((await store.retired('1001')).length).to.be.at.most(2);
    });

    it('a refused sign-in of an organization with a kept grant never ends the kept grant', async () => {
      const kept = issue(emulator);
      await tokens.connect('1001', kept);
      const refused = issue(emulator);
      await tokens.discard('1001', refused);
      expect(await works(emulator, kept.accessToken)).to.equal(true);
      expect(await tokens.accessToken('1001')).to.equal(kept.accessToken);
      if (scope === 'grant') expect(emulator.grantStatus(refused.refreshToken)).to.equal('revoked');
      else expect((await store.retired('1001')).map((g) => g.refreshToken)).to.deep.equal([refused.refreshToken]);
      await tokens.revoke('1001');
      expect(emulator.activeGrants('1001')).to.equal(0);
    });

    it('a refused sign-in of an organization with nothing kept is revoked', async () => {
      const refused = issue(emulator);
      await tokens.discard('1001', refused);
      expect(emulator.grantStatus(refused.refreshToken)).to.equal('revoked');
      expect(await store.retired('1001')).to.deep.equal([]);
    });

    it('a discarded grant whose revoke fails is kept, so that Disconnect can revoke it', async () => {
      const refused = issue(emulator);
      emulator.injectFault('revoke', { type: 'status', status: 503, body: 'down', contentType: 'text/plain' });
      await tokens.discard('1001', refused);
      expect((await store.retired('1001')).map((g) => g.refreshToken)).to.deep.equal([refused.refreshToken]);
      await tokens.revoke('1001');
      expect(emulator.grantStatus(refused.refreshToken)).to.equal('revoked');
      expect(await store.retired('1001')).to.deep.equal([]);
    });

    it('a refresh that loses to a newer sign-in keeps its rotated tokens instead of dropping them', async () => {
      const old = issue(emulator, -1_000);
      await tokens.connect('1001', old);
      // The emulator holds the refresh until the test moves its (fake) clock.
      const clock = fakeClock();
      pauses = fakeTimersPromises(clock);
      emulator.injectFault('token', { type: 'delay', ms: 200 });
      const refreshing = tokens.accessToken('1001');
      await clock.waiting();
      const newer = issue(emulator);
      await tokens.connect('1001', newer); // the same organization signs in while the refresh is out
      await clock.tick(200);
      const served = await refreshing;
      await tokens.idle();
      expect(await tokens.accessToken('1001')).to.equal(newer.accessToken);
      expect(await works(emulator, newer.accessToken)).to.equal(true);
      if (scope === 'organization') {
        // Its callers were served the rotated tokens as Samsara gave them; the write behind them
        // lost, and the tokens are kept (retired), so they still work.
        expect(served).to.not.be.oneOf([old.accessToken, newer.accessToken]);
        expect(await works(emulator, served)).to.equal(true);
        const [retired] = await store.retired('1001');
        expect(retired.refreshToken, 'the rotated tokens, not the spent ones').to.not.equal(old.refreshToken);
        expect(emulator.grantStatus(retired.refreshToken)).to.equal('active');
      } else {
        // The sign-in revoked the old grant before Samsara answered: the refresh adopted the newer one.
        expect(served).to.equal(newer.accessToken);
      }
      await tokens.revoke('1001');
      expect(emulator.activeGrants('1001')).to.equal(0);
    });

    it('a Disconnect whose read a late writer overtakes revokes the late tokens too: none stays live', async () => {
      const grant = issue(emulator);
      // A process that refreshed this grant and paused past its lock: Samsara rotated the tokens,
      // and its write lands after the Disconnect read the old ones but before it removed them.
      const rotated = await tokens.client.refresh(grant.refreshToken);
      let late = true;
      const overtaken = new (class extends MemoryTokenStore {
        override async forget(...args: Parameters<MemoryTokenStore['forget']>) {
          if (late) {
            late = false;
            expect(await this.update('1001', { ...connected, ...rotated }, connected.version)).to.not.equal(null);
          }
          return super.forget(...args);
        }
      })();
      const manager = new TokenManager({ store: overtaken, client: tokens.client, revocation: scope });
      const connected = await manager.connect('1001', grant);
      await manager.revoke('1001');
      expect(late, 'the late write landed mid-Disconnect').to.equal(false);
      expect(emulator.grantStatus(rotated.refreshToken)).to.equal('revoked');
      expect(emulator.activeGrants('1001')).to.equal(0);
      expect(await overtaken.get('1001')).to.equal(null);
    });

    it('a Disconnect racing a new sign-in removes only what it revoked: the new grant stays stored and live', async () => {
      const first = issue(emulator);
      await tokens.connect('1001', first);
      const clock = fakeClock();
      pauses = fakeTimersPromises(clock);
      emulator.injectFault('revoke', { type: 'delay', ms: 200 });
      const disconnecting = tokens.revoke('1001');
      await clock.waiting(); // the revoke is at Samsara
      const second = issue(emulator);
      await tokens.connect('1001', second);
      await clock.tick(200);
      await disconnecting;
      expect(emulator.grantStatus(first.refreshToken)).to.equal('revoked');
      if (scope === 'grant') {
        expect(await tokens.accessToken('1001')).to.equal(second.accessToken);
        expect(await works(emulator, second.accessToken)).to.equal(true);
      } else {
        // One revoke ended every grant of the organization, the racing one too: nothing live is
        // left stored for nothing. The app finds out at the next refresh or API call.
        expect(emulator.activeGrants('1001')).to.equal(0);
      }
      expect(await store.retired('1001'), 'the revoked grant is forgotten').to.deep.equal([]);
    });

    it('a Disconnect that goes on without the lock while a refresh is out, whose write the store then fails, leaves nothing live', async () => {
      let down = false;
      const flaky = new (class extends MemoryTokenStore {
        override async update(...args: Parameters<MemoryTokenStore['update']>) {
          if (down) throw new StoreUnavailableError('Redis is down.');
          return super.update(...args);
        }
      })();
      // The Disconnect waits 100 ms for the refresh's lock, then goes on without it.
      const manager = new TokenManager({ store: flaky, client: tokens.client, revocation: scope, waitTimeout: 100 });
      await manager.connect('1001', issue(emulator, -1_000));
      down = true;
      // Samsara rotates at 300 ms, after the Disconnect read the stored tokens (at about 100 ms),
      // and handles the Disconnect's revoke at about 500 ms: of the rotated-out token, which
      // reaches nothing. The rotated tokens are this process's alone, unsaved.
      emulator.injectFault('token', { type: 'delay', ms: 300 });
      emulator.injectFault('revoke', { type: 'delay', ms: 400 });
      const refreshing = manager.accessToken('1001');
      await until(() => emulator.counters.tokenRequests === 1);
      await manager.revoke('1001');
      await refreshing;
      down = false;
      await manager.idle();
      expect(emulator.activeGrants('1001'), 'the rotated tokens are revoked, not orphaned').to.equal(0);
      expect(await flaky.get('1001')).to.equal(null);
    });

    it('a sign-in whose store write fails lets its grant go once the store answers again', async () => {
      let down = true;
      const flaky = new (class extends MemoryTokenStore {
        override async replace(...args: Parameters<MemoryTokenStore['replace']>) {
          if (down) throw new StoreUnavailableError('Redis is down.');
          return super.replace(...args);
        }
        override async retire(...args: Parameters<MemoryTokenStore['retire']>) {
          if (down) throw new StoreUnavailableError('Redis is down.');
          return super.retire(...args);
        }
      })();
      const clock = fakeClock();
      const manager = new TokenManager({
        store: flaky,
        client: tokens.client,
        revocation: scope,
        retryDelay: 20,
        clock,
      });
      const grant = issue(emulator);
      const connecting = manager.connect('1001', grant).catch((e: unknown) => e);
      // The sign-in's write is tried 4 times, backing off 10-30, 20-60 and 40-120 ms. Each backoff
      // is run alone: a tick of the longest one could also run out the next, begun within it.
      for (const backoff of [30, 60, 120]) {
        await clock.waiting();
        expect(await clock.next()).to.be.within(backoff / 3, backoff);
      }
      expect(await connecting).to.be.instanceOf(StoreUnavailableError);
      const discarding = manager.discard('1001', grant);
      if (scope === 'organization') {
        // Whether the grant was kept after all is the store's to say: it waits for the store.
        await clock.waiting();
        expect(emulator.grantStatus(grant.refreshToken)).to.equal('active');
        down = false;
        await clock.tick(30); // the first backoff: 10 to 30 ms
      }
      await discarding;
      expect(emulator.grantStatus(grant.refreshToken)).to.equal('revoked');
    });

    it('a grant whose organization never became known is revoked', async () => {
      const grant = issue(emulator);
      await tokens.discard(undefined, grant);
      expect(emulator.grantStatus(grant.refreshToken)).to.equal('revoked');
    });

    it('a dead grant (invalid_grant) is removed conditionally and asks to sign in again', async () => {
      const grant = issue(emulator, -1_000);
      await tokens.connect('1001', grant);
      emulator.injectFault('token', {
        type: 'status',
        status: 400,
        body: '{"error":"invalid_grant"}',
        contentType: 'application/json',
      });
      expect(await tokens.accessToken('1001').catch((e: unknown) => e)).to.be.instanceOf(ReauthorizationRequiredError);
      expect(await store.get('1001')).to.equal(null);
    });
  });
}

describe('TokenManager: options', () => {
  const client = { clientID: 'i', clientSecret: 's', baseURL: 'http://127.0.0.1:9' };
  const bad: Array<[string, Record<string, unknown>]> = [
    ['skew', { skew: Number.NaN }],
    ['skew', { skew: -1 }],
    ['retries', { retries: 1.5 }],
    ['retries', { retries: -1 }],
    ['retryDelay', { retryDelay: Number.POSITIVE_INFINITY }],
    ['lockTtl', { lockTtl: Number.NaN }],
    ['waitTimeout', { waitTimeout: 0 }],
    ['maxRetiredGrants', { maxRetiredGrants: 0 }],
    ['revocation', { revocation: 'everything' }],
  ];
  for (const [name, options] of bad) {
    it(`refuses ${name}: ${String(Object.values(options)[0])} with a ConfigurationError naming it`, () => {
      expect(() => new TokenManager({ client, ...options })).to.throw(ConfigurationError, new RegExp(name));
    });
  }

  it('takes 0 for skew and retries: a token 30 s from expiry is served as it is, a failing refresh is tried once', async () => {
    const emulator = await startSamsaraEmulator();
    try {
      const tokens = new TokenManager({ client: clientOf(emulator), skew: 0, retries: 0 });
      const soon = issue(emulator, 30_000);
      await tokens.connect('1001', soon);
      expect(await tokens.accessToken('1001')).to.equal(soon.accessToken);
      expect(emulator.counters.tokenRequests).to.equal(0);
      await tokens.connect('1002', issue(emulator, -1_000));
      emulator.injectFault('token', { type: 'status', status: 503, body: 'down', contentType: 'text/plain' }, 5);
      expect(await tokens.accessToken('1002').catch((e: unknown) => e)).to.be.instanceOf(RefreshUnavailableError);
      expect(emulator.counters.tokenRequests).to.equal(1);
    } finally {
      await emulator.stop();
    }
  });
});
