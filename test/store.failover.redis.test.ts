import { expect } from 'chai';
import Redis, { type Cluster } from 'ioredis';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ReauthorizationRequiredError,
  RedisTokenStore,
  SAMSARA_CHANNELS,
  TokenManager,
  generateSealingKey,
  type RedisDurabilityOptions,
  type RefreshEvent,
  type TokenStore,
} from 'passport-samsara';
import { StoreUnavailableError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf, seedGrant } from './support/grants.js';
import { cli, connect, startRedis, startRedisCluster, until, type RedisCluster } from './support/redis.js';
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
    // A refresh's write lands behind its callers: the failover comes once every write has had its
    // answer (saved, or unsaved because no replica confirmed it).
    const answered: string[] = [];
    const listener = (m: unknown): void => {
      const { outcome } = m as RefreshEvent;
      if (outcome === 'refreshed' || outcome === 'unsaved') answered.push(outcome);
    };
    subscribe(SAMSARA_CHANNELS.refresh, listener);
    const refreshed = await Promise.all(orgs.map((org) => manager.accessToken(org)));
    expect(emulator.counters.grants.refresh_token).to.equal(N);
    await until('every write to be answered', async () => answered.length === N).finally(() =>
      unsubscribe(SAMSARA_CHANNELS.refresh, listener),
    );

    await setup.primary.kill();
    await until('Sentinel to promote the replica', async () => (await setup.primaryPort()) === setup.replica.port);
    await manager.idle();

    const { lost, served } = await lossesSeenBy(emulator, storeOn(durability), refreshed);
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

/**
 * `org`'s token, or undefined when its grant is lost. A store that does not answer yet (a client
 * still finding the promoted node) is asked again: that is the reader's availability, not a loss.
 */
async function tokenOf(manager: TokenManager, org: string): Promise<string | undefined> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await manager.accessToken(org);
    } catch (err) {
      if (err instanceof ReauthorizationRequiredError) return undefined;
      if (!(err instanceof StoreUnavailableError) || Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

/**
 * What a process that never saw the refreshes finds: the organizations whose grant is lost (it
 * cannot get a token: the store holds only spent refresh tokens), and those served the token
 * refreshed earlier (`refreshed`, by organization, in `orgs` order).
 */
async function lossesSeenBy(
  emulator: SamsaraEmulator,
  store: TokenStore,
  refreshed: string[],
): Promise<{ lost: number; served: number }> {
  const elsewhere = new TokenManager({ store, client: clientOf(emulator) });
  let lost = 0;
  let served = 0;
  for (const [i, org] of orgs.entries()) {
    const token = await tokenOf(elsewhere, org);
    if (token === undefined) lost++;
    else if (token === refreshed[i]) served++;
  }
  return { lost, served };
}

describe('RedisTokenStore on a 3 + 3 Cluster: a master killed right after a refresh storm', function () {
  this.timeout(90_000);
  let cluster: RedisCluster;
  let emulator: SamsaraEmulator;
  const clients: Cluster[] = [];

  beforeEach(async () => {
    [cluster, emulator] = await Promise.all([
      startRedisCluster(6, 1),
      startSamsaraEmulator({ organizations: orgs.map((id) => ({ id, name: id })) }),
    ]);
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.disconnect();
    await Promise.all([cluster.stop(), emulator.stop()]);
  });

  function storeOnCluster(): RedisTokenStore {
    const client = connect('ioredis 5 Cluster', cluster) as Cluster;
    clients.push(client);
    return new RedisTokenStore({ client, keys, prefix: 'fo:' });
  }

  it('loses 0 of N grants, and every organization is served the token refreshed before the kill', async () => {
    const store = storeOnCluster();
    for (const org of orgs) await seedGrant(emulator, store, org);
    const manager = new TokenManager({ store, client: clientOf(emulator) });
    const refreshed = await Promise.all(orgs.map((org) => manager.accessToken(org)));

    // Every rotation waited for its master's replica (the sign-ins' writes too).
    let waits = 0;
    for (const { port } of cluster.servers) {
      waits += Number(/cmdstat_wait:calls=(\d+)/.exec(await cli(port, 'info', 'commandstats'))?.[1] ?? 0);
    }
    expect(waits).to.be.at.least(2 * N);

    // The master of the first organization's slot dies at once.
    let victim: number | undefined;
    for (const node of clients[0].nodes('master')) {
      // The others answer MOVED.
      if ((await node.exists('fo:{org:org-1}').catch(() => 0)) === 1) victim = node.options.port;
    }
    const server = cluster.servers.find(({ port }) => port === victim);
    expect(server, 'a master holds the key').to.not.equal(undefined);
    await server?.kill();
    const survivors = cluster.servers.filter(({ port }) => port !== victim);
    await until(
      'the replica to take over',
      async () => {
        for (const { port } of survivors) {
          const nodes = await cli(port, 'cluster', 'nodes');
          if (!nodes.split('\n').some((line) => line.includes(`:${victim}@`) && line.includes('fail'))) return false;
          if (!(await cli(port, 'cluster', 'info')).includes('cluster_state:ok')) return false;
        }
        return true;
      },
      30_000,
    );
    await manager.idle();

    const { lost, served } = await lossesSeenBy(emulator, storeOnCluster(), refreshed);
    console.log(
      `      3 + 3 Cluster, master ${victim} killed after the storm: ${lost}/${N} grants lost, ${served}/${N} served`,
    );
    expect(lost).to.equal(0);
    expect(served).to.equal(N);
  });
});

describe('RedisTokenStore durability on a primary with appendonly on', function () {
  this.timeout(30_000);

  it('waits with WAITAOF where the server has it, else (before Redis 7.2) with WAIT, and counts the write saved', async () => {
    const [primary, replica] = await Promise.all([startRedis({ persistent: true }), startRedis()]);
    const client = new Redis({ host: primary.host, port: primary.port });
    const store = new RedisTokenStore({ client, keys, prefix: 'aof:' });
    try {
      await cli(replica.port, 'replicaof', primary.host, String(primary.port));
      await until('the replica to sync', async () =>
        (await cli(replica.port, 'info', 'replication')).includes('master_link_status:up'),
      );
      const grant = { accessToken: 'a', refreshToken: 'r', expiresAt: 1_900_000_000_000, grantId: 'g' };
      const first = await store.replace('1001', grant, 0);
      const next = await store.update('1001', { ...grant, refreshToken: 'r2' }, first.version);
      expect(next?.version).to.equal(first.version + 1);
      const stats = await cli(primary.port, 'info', 'commandstats');
      const calls = (name: string): number => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
      expect(await cli(primary.port, 'info', 'persistence'), 'the AOF branch is the one taken').to.include(
        'aof_enabled:1',
      );
      const hasWaitAof = (await cli(primary.port, 'command', 'info', 'waitaof')).length > 0;
      expect(calls(hasWaitAof ? 'waitaof' : 'wait')).to.be.at.least(2);
      expect(await cli(replica.port, 'hget', 'aof:{org:1001}', 'f')).to.not.equal('');
    } finally {
      await store.close();
      client.disconnect();
      await Promise.all([primary.stop(), replica.stop()]);
    }
  });
});
