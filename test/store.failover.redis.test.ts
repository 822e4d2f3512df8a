import { expect } from 'chai';
import Redis from 'ioredis';
import {
  ReauthorizationRequiredError,
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  type RedisDurabilityOptions,
} from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf, seedGrant } from './support/grants.js';
import { until } from './support/redis.js';
import { startSentinelSetup, type SentinelSetup } from './support/replication.js';

const keys = generateSealingKey('kfailover');
const N = 10;
const orgs = Array.from({ length: N }, (_, i) => `org-${i + 1}`);

describe('RedisTokenStore under a Sentinel failover: a rotation is saved only once a replica has it', function () {
  this.timeout(60_000);
  let setup: SentinelSetup;
  let emulator: SamsaraEmulator;
  const clients: Redis[] = [];
  const stores: RedisTokenStore[] = [];

  /** A client that follows Sentinel to whichever primary it names. */
  function storeOn(durability?: RedisDurabilityOptions): RedisTokenStore {
    const client = new Redis({
      sentinels: [setup.sentinel],
      name: setup.name,
      retryStrategy: () => 50,
      sentinelRetryStrategy: () => 50,
    });
    client.on('error', () => undefined);
    clients.push(client);
    const store = new RedisTokenStore({ client, keys, prefix: 'fo:', ...(durability && { durability }) });
    stores.push(store);
    return store;
  }

  beforeEach(async () => {
    [setup, emulator] = await Promise.all([
      startSentinelSetup(),
      startSamsaraEmulator({ organizations: orgs.map((id) => ({ id, name: id })) }),
    ]);
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    for (const client of clients.splice(0)) client.disconnect();
    await Promise.all([setup.stop(), emulator.stop()]);
  });

  /**
   * Seeds N expired grants (replicated), holds the replica's link, refreshes every organization,
   * kills the primary and waits for Sentinel to promote the replica. Then a process that never
   * saw the refreshes asks for every organization's token: the grants lost are those it cannot get.
   */
  async function refreshThenFailOver(durability?: RedisDurabilityOptions): Promise<{ lost: number; served: number }> {
    const store = storeOn(durability);
    for (const org of orgs) await seedGrant(emulator, store, org);
    await clients[0].wait(1, 5000);
    setup.proxy.hold();
    const manager = new TokenManager({ store, client: clientOf(emulator) });
    const refreshed = await Promise.all(orgs.map((org) => manager.accessToken(org)));
    expect(emulator.counters.grants.refresh_token).to.equal(N);

    await setup.primary.kill();
    await until('Sentinel to promote the replica', async () => (await setup.primaryPort()) === setup.replica.port);
    await manager.idle();

    const elsewhere = new TokenManager({ store: storeOn(durability), client: clientOf(emulator) });
    let lost = 0;
    let served = 0;
    for (const [i, org] of orgs.entries()) {
      const token = await elsewhere.accessToken(org).catch((err: unknown) => {
        if (err instanceof ReauthorizationRequiredError) return undefined;
        throw err;
      });
      if (token === undefined) lost++;
      else if (token === refreshed[i]) served++;
    }
    console.log(
      `      failover with durability ${durability ? JSON.stringify(durability) : 'default (auto)'}: ${lost}/${N} grants lost, ${served}/${N} served the refreshed token`,
    );
    return { lost, served };
  }

  it('by default: 0 of N grants lost, every organization served the token refreshed before the failover', async () => {
    const { lost, served } = await refreshThenFailOver();
    expect(lost).to.equal(0);
    expect(served).to.equal(N);
    expect(emulator.counters.invalidGrant).to.equal(0);
  });

  it('with durability off (replicas: 0): the failover loses every rotation, and so every grant', async () => {
    const { lost } = await refreshThenFailOver({ replicas: 0 });
    expect(lost).to.equal(N);
  });
});
