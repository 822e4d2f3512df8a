import { expect } from 'chai';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import sinon from 'sinon';
import {
  MemoryTokenStore,
  OAuthClient,
  ReauthorizationRequiredError,
  SAMSARA_CHANNELS,
  TokenManager,
  type ConnectEvent,
  type DisconnectEvent,
  type HookFailureEvent,
  type ReauthorizationRequiredEvent,
} from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf } from './support/grants.js';

/** What the hooks heard, in order. */
type Heard = Array<
  ['connect', ConnectEvent] | ['disconnect', DisconnectEvent] | ['reauthorize', ReauthorizationRequiredEvent]
>;

describe('TokenManager lifecycle hooks: onConnect, onDisconnect, onReauthorizationRequired', () => {
  let emulator: SamsaraEmulator;
  let store: MemoryTokenStore;
  let heard: Heard;
  let tokens: TokenManager;

  beforeEach(async () => {
    emulator = await startSamsaraEmulator({ revocation: 'organization' });
    store = new MemoryTokenStore();
    heard = [];
    tokens = new TokenManager({
      store,
      client: clientOf(emulator),
      onConnect: (event) => void heard.push(['connect', event]),
      onDisconnect: (event) => void heard.push(['disconnect', event]),
      onReauthorizationRequired: (event) => void heard.push(['reauthorize', event]),
    });
  });
  afterEach(async () => {
    sinon.restore();
    await tokens.idle();
    await emulator.stop();
  });

  /** A sign-in of the emulator's organization, as the strategy connects it. */
  function grant(expiresInMs = 3600_000): { accessToken: string; refreshToken: string; expiresAt: number } {
    const issued = emulator.issueGrant('1001');
    return { accessToken: issued.accessToken, refreshToken: issued.refreshToken, expiresAt: Date.now() + expiresInMs };
  }

  it('onConnect: connected, then reconnected; not again for a grant already connected', async () => {
    const first = grant();
    await tokens.connect('1001', first);
    await tokens.connect('1001', first); // a verify that connected it before the strategy did
    await tokens.connect('1001', grant());
    expect(heard).to.deep.equal([
      ['connect', { orgId: '1001', reason: 'connected', region: 'us' }],
      ['connect', { orgId: '1001', reason: 'reconnected', region: 'us' }],
    ]);
  });

  it('onDisconnect: once, after every grant is revoked; not for a Disconnect with nothing held, nor one whose revoke failed', async () => {
    await tokens.connect('1001', grant());
    await tokens.connect('1001', grant());
    emulator.injectFault('revoke', { type: 'status', status: 503 }, 1);
    await tokens.revoke('1001').then(
      () => expect.fail('the revoke failed'),
      (err: Error) => expect(err.name).to.equal('RevokeFailedError'),
    );
    expect(
      heard.filter(([what]) => what === 'disconnect'),
      'still connected',
    ).to.deep.equal([]);
    await tokens.revoke('1001');
    await tokens.revoke('1001');
    expect(heard.filter(([what]) => what === 'disconnect')).to.deep.equal([
      ['disconnect', { orgId: '1001', reason: 'revoked', grants: 1 }],
    ]);
    expect(emulator.activeGrants('1001')).to.equal(0);
  });

  it('onReauthorizationRequired: once per dead grant, by the call that found it dead; idle() waits for it', async () => {
    const dead = grant(-1_000);
    await tokens.connect('1001', dead);
    await new OAuthClient(clientOf(emulator)).revoke(dead.refreshToken); // uninstalled in Samsara
    const calls = await Promise.allSettled([tokens.accessToken('1001'), tokens.accessToken('1001')]);
    await tokens.accessToken('1001').catch(() => undefined); // no credentials now: not a new event
    await tokens.idle();
    for (const call of calls)
      expect((call as PromiseRejectedResult).reason).to.be.instanceOf(ReauthorizationRequiredError);
    expect(heard.filter(([what]) => what === 'reauthorize')).to.deep.equal([
      ['reauthorize', { orgId: '1001', reason: 'grant-dead' }],
    ]);
  });

  it('onReauthorizationRequired: two managers whose locks both held (a lapsed lock) both see invalid_grant; only the removal that wins tells', async () => {
    // A lock that never refuses: as when one holder paused past its ttl and another took it.
    const lapsed = new (class extends MemoryTokenStore {
      override async lock(key: string, ttlMs: number) {
        return (await super.lock(key, ttlMs)) ?? { current: await this.get(key), release: async () => undefined };
      }
    })();
    const told: string[] = [];
    const managers = [0, 1].map(
      (i) =>
        new TokenManager({
          store: lapsed,
          client: clientOf(emulator),
          cache: false,
          onReauthorizationRequired: ({ orgId }) => void told.push(`${i}:${orgId}`),
        }),
    );
    const dead = grant(-1_000);
    await managers[0].connect('1001', dead);
    await new OAuthClient(clientOf(emulator)).revoke(dead.refreshToken);
    const invalidBefore = emulator.counters.invalidGrant;
    await Promise.allSettled(managers.map((m) => m.accessToken('1001')));
    for (const m of managers) await m.idle();
    expect(emulator.counters.invalidGrant - invalidBefore, 'both refreshed with the dead token').to.equal(2);
    expect(told, 'told once').to.have.length(1);
  });

  it('a hook that throws changes nothing: the grant is kept or revoked as it was, the call succeeds, the channel says so', async () => {
    const failures: HookFailureEvent[] = [];
    const listener = (message: unknown): void => void failures.push(message as HookFailureEvent);
    subscribe(SAMSARA_CHANNELS.hookFailure, listener);
    try {
      const failing = new TokenManager({
        store,
        client: clientOf(emulator),
        onConnect: () => {
          throw new TypeError('accounts table is down');
        },
        onDisconnect: async () => Promise.reject(new Error('mailer is down')),
      });
      const later = sinon.spy();
      failing.addHooks({ onConnect: later });
      const stored = await failing.connect('1001', grant());
      expect(emulator.grantStatus(stored.refreshToken)).to.equal('active');
      expect(later.callCount, 'the hooks after a failing one still run').to.equal(1);
      await failing.revoke('1001');
      expect(emulator.activeGrants('1001')).to.equal(0);
      expect(failures.map((f) => [f.outcome, f.orgId, f.code, (f.error as Error).message])).to.deep.equal([
        ['onConnect', '1001', 'TypeError', 'accounts table is down'],
        ['onDisconnect', '1001', 'Error', 'mailer is down'],
      ]);
    } finally {
      unsubscribe(SAMSARA_CHANNELS.hookFailure, listener);
    }
  });

  it('a hook failure nobody subscribes to becomes a process warning, with the error name only', async () => {
    const warn = sinon.stub(process, 'emitWarning');
    const failing = new TokenManager({
      store,
      client: clientOf(emulator),
      onConnect: () => {
        throw new Error('secret-looking detail');
      },
    });
    await failing.connect('1001', grant());
    expect(warn.callCount).to.equal(1);
    const [message, options] = warn.firstCall.args as [string, { code: string }];
    expect(options.code).to.equal('SAMSARA_HOOK_FAILED');
    expect(message).to.include('onConnect').and.include('1001').and.not.include('secret-looking');
  });

  it('addHooks: added hooks hear the events too, and stop once taken out', async () => {
    const added = sinon.spy();
    const remove = tokens.addHooks({ onConnect: added });
    await tokens.connect('1001', grant());
    remove();
    await tokens.connect('1001', grant());
    expect(added.callCount).to.equal(1);
    expect(heard).to.have.length(2);
  });
});
