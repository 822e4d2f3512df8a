import { expect } from 'chai';
import Redis, { Cluster } from 'ioredis';
import Redis6 from 'ioredis6';
import {
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  type NewCredentials,
  type RedisClientLike,
} from 'passport-samsara';
import { ConfigurationError } from 'passport-samsara/errors';
import { until } from './support/clock.js';
import {
  startRedis,
  startRedisCluster,
  type RedisCluster,
  type RedisFlavor,
  type RedisServer,
} from './support/redis.js';

// ioredis's keyPrefix is added to every key a command names, but not to a SCAN pattern, not to
// the keys SCAN returns, and not to pub/sub channels: the store handles all three itself.

const keys = generateSealingKey('kprefix');
const grant = (n: number): NewCredentials => ({
  accessToken: `access-${n}`,
  refreshToken: `refresh-${n}`,
  expiresAt: 1_900_000_000_000,
  grantId: `g${n}`,
});
const ORGS = ['1001', '2002', 'org/3'];

function prefixed(flavor: RedisFlavor, target: RedisServer | RedisCluster, keyPrefix: string): RedisClientLike & Redis {
  const retryStrategy = (): number => 50;
  const client =
    'nodes' in target
      ? new Cluster(target.nodes, { keyPrefix, clusterRetryStrategy: retryStrategy })
      : flavor === 'ioredis 6'
        ? (new Redis6({ host: target.host, port: target.port, keyPrefix, retryStrategy }) as unknown as Redis)
        : new Redis({ host: target.host, port: target.port, keyPrefix, retryStrategy });
  client.on('error', () => {});
  return client as unknown as RedisClientLike & Redis;
}

/** Every key of the servers, without any prefix added: what is really in Redis. */
async function rawKeys(target: RedisServer | RedisCluster): Promise<string[]> {
  const servers = 'nodes' in target ? target.nodes : [target];
  const found = await Promise.all(
    servers.map(async ({ host, port }) => {
      const raw = new Redis({ host, port });
      try {
        return await raw.keys('*');
      } finally {
        raw.disconnect();
      }
    }),
  );
  return found.flat().sort();
}

for (const flavor of ['ioredis 5', 'ioredis 6', 'ioredis 5 Cluster'] as RedisFlavor[]) {
  describe(`RedisTokenStore on a client with keyPrefix (${flavor})`, function () {
    this.timeout(30_000);
    let target: RedisServer | RedisCluster;
    let client: RedisClientLike & Redis;
    let writer: RedisClientLike & Redis;
    let store: RedisTokenStore;
    let other: RedisTokenStore;

    before(async () => {
      target = flavor.includes('Cluster') ? await startRedisCluster(3) : await startRedis();
      client = prefixed(flavor, target, 'app:');
      writer = prefixed(flavor, target, 'app:');
      store = new RedisTokenStore({ client, keys, prefix: 'kp:', pollInterval: 10_000 });
      other = new RedisTokenStore({ client: writer, keys, prefix: 'kp:' });
      for (const [i, org] of ORGS.entries()) await store.replace(org, grant(i), 10);
      // Another app on the same Redis, with another keyPrefix and the same store prefix.
      const neighbour = prefixed(flavor, target, 'other:');
      await new RedisTokenStore({ client: neighbour, keys, prefix: 'kp:' }).replace('9009', grant(9), 10);
      neighbour.disconnect();
    });
    after(async () => {
      await store.close();
      await other.close();
      client.disconnect();
      writer.disconnect();
      await target.stop();
    });

    it('lists every organization once: the SCAN pattern and the keys it returns both carry the prefix once', async () => {
      const listed: string[] = [];
      for await (const org of new TokenManager({
        store,
        client: { clientID: 'c', clientSecret: 's' },
      }).organizations()) {
        listed.push(org.orgId);
      }
      expect(listed.sort()).to.deep.equal([...ORGS].sort());
      const raw = await rawKeys(target);
      expect(raw).to.include.members(['app:kp:{org:1001}', 'app:kp:{org:2002}', 'app:kp:{org:org%2F3}']);
      expect(raw.filter((key) => key.startsWith('app:app:'))).to.deep.equal([]);
    });

    it('keeps its epoch marker under the prefix too', async () => {
      expect((await store.health()).status).to.equal('ok');
      const markers = (await rawKeys(target)).filter((key) => key.startsWith('app:kp:{epoch:'));
      expect(markers).to.have.length(flavor.includes('Cluster') ? 3 : 1);
    });

    it('wakes a waiter by pub/sub on the prefixed channel', async () => {
      const { version } = (await store.get('1001'))!;
      // Held, so that the wait lasts until a message (or the 10 s poll) ends it.
      const lock = (await other.lock('1001', 20_000))!;
      const probes = ('nodes' in target ? target.nodes : [target]).map(({ host, port }) => new Redis({ host, port }));
      try {
        const waiting = store.waitForChange('1001', version, 20_000);
        const started = performance.now();
        await until(async () => {
          const channels = await Promise.all(probes.map((probe) => probe.pubsub('CHANNELS', 'app:kp:*')));
          return (channels.flat() as string[]).includes('app:kp:{org:1001}:done');
        }, 'the subscription to the prefixed channel');
        await other.update('1001', grant(7), version);
        await waiting;
        expect(performance.now() - started, 'woken by the message, not the 10 s poll').to.be.below(5_000);
      } finally {
        await lock.release();
        for (const probe of probes) probe.disconnect();
      }
    });

    if (!flavor.includes('Cluster')) {
      it("tells a watcher which key changed, and nothing of another keyPrefix's", async () => {
        const changed: (string | undefined)[] = [];
        const watch = store.watch((key) => changed.push(key));
        try {
          await until(() => watch.live, 'the watch to be live');
          const neighbour = prefixed(flavor, target, 'other:');
          await new RedisTokenStore({ client: neighbour, keys, prefix: 'kp:' }).replace('1001', grant(6), 10);
          neighbour.disconnect();
          const { version } = (await store.get('2002'))!;
          await other.update('2002', grant(8), version);
          await until(() => changed.includes('2002'), 'the change of 2002');
          expect(changed.filter((key) => key !== '2002')).to.deep.equal([]);
        } finally {
          watch.close();
        }
      });
    }
  });
}

describe('RedisTokenStore: a keyPrefix it cannot honour', () => {
  it('refuses a keyPrefix with a hash tag brace', () => {
    const client = new Redis({ lazyConnect: true, keyPrefix: '{app}:' });
    try {
      expect(() => new RedisTokenStore({ client, keys })).to.throw(ConfigurationError, /keyPrefix/);
    } finally {
      client.disconnect();
    }
  });
});
