import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import {
  MemoryTokenStore,
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  organizationWebhooks,
  type Clock,
  type TokenStore,
} from 'passport-samsara';
import { SAMSARA_WEBHOOK_EVENT_TYPES } from 'passport-samsara/webhooks';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { TokenManager as LibTokenManager } from '../lib/tokens/manager.js';
import { WRITE_SLOT_MS, WebhooksApi } from '../lib/webhooks/upkeep-api.js';
import { clientOf } from './support/grants.js';
import './support/warnings.js';

const URL_A = 'http://127.0.0.1:9/samsara/webhooks';

describe('organizationWebhooks: reconcile() repairs drift within the write limit', () => {
  let emulator: SamsaraEmulator | undefined;
  afterEach(async () => {
    await emulator?.stop();
    emulator = undefined;
  });

  /** Connects organizations as sign-ins would, without webhooks (the manager of an app before it kept them). */
  async function connectAll(store: TokenStore, orgIds: string[], clock?: Clock): Promise<void> {
    const plain = new TokenManager({ store, client: clientOf(emulator!), ...(clock && { clock }) });
    const now = clock?.now() ?? Date.now();
    for (const orgId of orgIds)
      await plain.connect(orgId, { ...emulator!.issueGrant(orgId), expiresAt: now + 3600_000 });
  }

  it('repairs a deleted webhook, a changed URL and an unknown secret, and leaves a sound one alone', async () => {
    const orgs = ['1001', '2002', '3003', '4004'];
    emulator = await startSamsaraEmulator({ organizations: orgs.map((id) => ({ id, name: id, vehicleCount: 0 })) });
    const store = new MemoryTokenStore();
    const tokens = new TokenManager({
      store,
      client: clientOf(emulator),
      webhooks: organizationWebhooks({ url: URL_A }),
    });
    for (const orgId of orgs)
      await tokens.connect(orgId, { ...emulator.issueGrant(orgId), expiresAt: Date.now() + 3600_000 });
    const api = async (orgId: string, method: string, id: string, body?: unknown): Promise<number> => {
      const response = await fetch(`${emulator!.baseURL}/webhooks/${id}`, {
        method,
        headers: { authorization: `Bearer ${await tokens.accessToken(orgId)}`, 'content-type': 'application/json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      await response.body?.cancel();
      return response.status;
    };
    const [deleted] = emulator.webhooksOf('1001');
    expect(await api('1001', 'DELETE', deleted.id)).to.equal(204);
    const [moved] = emulator.webhooksOf('2002');
    expect(
      await api('2002', 'PATCH', moved.id, { url: 'https://elsewhere.example/hooks', eventTypes: ['AddressCreated'] }),
    ).to.equal(200);
    await store.saveWebhook('3003', null, emulator.webhooksOf('3003')[0].id); // a store that lost it

    const report = await tokens.webhooks!.reconcile();
    expect(report).to.deep.equal({ organizations: 4, created: 1, repaired: 2, unchanged: 1, failed: [] });
    for (const orgId of orgs) {
      const live = emulator.webhooksOf(orgId);
      expect(live, orgId).to.have.length(1);
      expect(live[0], orgId).to.deep.include({ url: URL_A, eventTypes: [...SAMSARA_WEBHOOK_EVENT_TYPES] });
      expect(await store.webhook(orgId), orgId).to.deep.equal({
        id: live[0].id,
        url: URL_A,
        secretKey: live[0].secretKey,
      });
    }
    expect(await tokens.webhooks!.reconcile(), 'a second pass finds nothing to do').to.deep.include({ unchanged: 4 });
  });

  it('deletes duplicates of ours (a race of two sign-ins elsewhere), leaves other apps’ webhooks alone', async () => {
    emulator = await startSamsaraEmulator({ organizations: [{ id: '1001', name: 'one', vehicleCount: 0 }] });
    const store = new MemoryTokenStore();
    await connectAll(store, ['1001']);
    const name = `passport-samsara ${new URL(URL_A).host}`;
    const ours = [0, 1].map(() => emulator!.addWebhook('1001', { name, url: URL_A, eventTypes: ['VehicleCreated'] }));
    const theirs = emulator.addWebhook('1001', { name: 'another app', url: URL_A, eventTypes: ['VehicleCreated'] });
    const tokens = new TokenManager({
      store,
      client: clientOf(emulator),
      webhooks: organizationWebhooks({ url: URL_A }),
    });
    expect(await tokens.webhooks!.reconcile()).to.deep.include({ repaired: 1, failed: [] });
    expect(emulator.webhooksOf('1001').map((webhook) => webhook.id)).to.deep.equal([ours[0].id, theirs.id]);
    expect((await store.webhook('1001'))?.id).to.equal(ours[0].id);
    await tokens.revoke('1001');
    expect(
      emulator.webhooksOf('1001').map((webhook) => webhook.id),
      'Disconnect too',
    ).to.deep.equal([theirs.id]);
    await tokens.webhooks!.reconcile({ concurrency: 0 }).then(
      () => expect.fail('a concurrency of 0'),
      (err: Error) => expect(err.name).to.equal('ConfigurationError'),
    );
  });

  it('300 organizations: every webhook created, 0 429s, one write each', async function () {
    this.timeout(60_000);
    const orgs = Array.from({ length: 300 }, (_, i) => String(5000 + i));
    emulator = await startSamsaraEmulator({ organizations: orgs.map((id) => ({ id, name: id, vehicleCount: 0 })) });
    const store = new MemoryTokenStore();
    await connectAll(store, orgs);
    const tokens = new TokenManager({
      store,
      client: clientOf(emulator),
      webhooks: organizationWebhooks({ url: URL_A }),
    });
    const report = await tokens.webhooks!.reconcile({ concurrency: 8 });
    expect(report).to.deep.equal({ organizations: 300, created: 300, repaired: 0, unchanged: 0, failed: [] });
    expect(emulator.counters.rateLimited, '429s').to.equal(0);
    expect(emulator.webhooksOf().length).to.equal(300);
    for (const orgId of orgs) expect(emulator.webhooksOf(orgId), orgId).to.have.length(1);
  });

  it('two processes on one Redis share an organization’s write budget: 150 writes, 0 429s, at most 93 in any minute', async () => {
    // One virtual time for the emulator (its 100-a-minute window) and both processes: a wait
    // moves it on at once, so a minute's budget is spent in a moment of real time.
    let now = Date.now();
    const clock: Clock = {
      now: () => now,
      sleep: (ms) => {
        now = Math.max(now, now + ms);
        return new Promise((resolve) => setImmediate(resolve));
      },
    };
    emulator = await startSamsaraEmulator({
      clock: () => now,
      organizations: [{ id: '1001', name: 'one', vehicleCount: 0 }],
    });
    const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
    const prefix = `lifecycle-${randomBytes(6).toString('hex')}:`;
    const keys = generateSealingKey('klifecycle');
    const stores = [
      new RedisTokenStore({ client: redis, prefix, keys }),
      new RedisTokenStore({ client: redis, prefix, keys }),
    ];
    try {
      await connectAll(stores[0], ['1001'], clock);
      const started = now;
      const writes: number[] = [];
      // The write slot each write took, as the store granted it (its name carries the slot).
      for (const store of stores) {
        const claim = store.claim.bind(store);
        store.claim = async (name, ttl) => {
          const taken = await claim(name, ttl);
          const slot = /^webhook-write:1001:(\d+)$/.exec(name)?.[1];
          if (taken.claim && slot !== undefined) writes.push(Number(slot) * WRITE_SLOT_MS);
          return taken;
        };
      }
      const writer = async (store: RedisTokenStore): Promise<void> => {
        const tokens = new LibTokenManager({ store, client: clientOf(emulator!), clock });
        const api = new WebhooksApi(tokens, store, clock);
        for (let i = 0; i < 25; i++) {
          const { id } = await api.create('1001', { name: `w${i}`, url: URL_A, version: '2024-02-27', eventTypes: [] });
          await api.update('1001', id, { eventTypes: ['VehicleCreated'] });
          await api.remove('1001', id);
        }
      };
      await Promise.all(stores.map(writer));
      expect(writes).to.have.length(150);
      expect(emulator.counters.rateLimited, '429s').to.equal(0);
      expect(now - started, 'over more than a minute').to.be.above(60_000);
      const busiest = Math.max(...writes.map((t) => writes.filter((u) => u >= t && u < t + 60_000).length));
      expect(busiest, 'the most writes in any minute')
        .to.be.at.most(Math.ceil(60_000 / WRITE_SLOT_MS))
        .and.below(100);
      expect(new Set(writes).size, 'one write per slot, across both processes').to.equal(150);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      const stale = await redis.keys(`${prefix}*`);
      if (stale.length > 0) await redis.del(...stale);
      redis.disconnect();
    }
  });
});
