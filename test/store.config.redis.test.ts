import { expect } from 'chai';
import Redis from 'ioredis';
import { RedisTokenStore, generateSealingKey } from 'passport-samsara';
import { until } from './support/clock.js';
import { connect, startRedis, type RedisServer } from './support/redis.js';
import { redisWarnings } from './support/warnings.js';

const keys = generateSealingKey('kconfig');

describe('RedisTokenStore: the configuration check at first use', function () {
  this.timeout(20_000);
  let server: RedisServer;
  let admin: Redis;

  before(async () => {
    server = await startRedis();
    admin = connect('ioredis 5', server) as Redis;
  });
  after(async () => {
    admin.disconnect();
    await server.stop();
  });

  /** How many CONFIG commands the server ran since its stats were reset. */
  async function configCalls(): Promise<number> {
    return Number(/cmdstat_config\|get:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
  }

  /** The warnings a new store on `client` emits at its first command, once it has checked. */
  async function warningsOf(client: Redis, settle = 'the configuration check'): Promise<string[]> {
    const seen = redisWarnings().length;
    const before = await configCalls();
    const store = new RedisTokenStore({ client, keys, prefix: 'config:' });
    await store.get('1001');
    await until(async () => (await configCalls()) >= before + 3, settle);
    // The three CONFIG GETs answer together; a warning follows them in the same turn.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.get('1001'); // a second command checks nothing again
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.close();
    return redisWarnings()
      .slice(seen)
      .map((w) => w.code);
  }

  beforeEach(async () => {
    await admin.config('SET', 'save', '');
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
  });

  it('warns once that a Redis without persistence loses every token on a restart, naming the server', async () => {
    const client = connect('ioredis 5', server) as Redis;
    try {
      expect(await warningsOf(client)).to.deep.equal(['SAMSARA_REDIS_NOT_PERSISTENT']);
      const [warning] = redisWarnings().slice(-1);
      expect(warning.message).to.include(`127.0.0.1:${server.port}`).and.include('appendonly yes');
    } finally {
      client.disconnect();
    }
  });

  it('warns of snapshots alone, and of an allkeys policy', async () => {
    await admin.config('SET', 'save', '3600 1');
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const client = connect('ioredis 5', server) as Redis;
    try {
      expect(await warningsOf(client)).to.deep.equal(['SAMSARA_REDIS_SNAPSHOTS_ONLY', 'SAMSARA_REDIS_EVICTS']);
    } finally {
      client.disconnect();
    }
  });

  it('says nothing of a Redis that persists every write and never evicts', async () => {
    const persistent = await startRedis({ persistent: true });
    const client = connect('ioredis 5', persistent) as Redis;
    try {
      await client.config('SET', 'maxmemory-policy', 'volatile-lru');
      const seen = redisWarnings().length;
      const store = new RedisTokenStore({ client, keys, prefix: 'config:' });
      await store.get('1001');
      await until(async () => /cmdstat_config\|get:calls=3/.test(await client.info('commandstats')), 'the check');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(redisWarnings().slice(seen)).to.deep.equal([]);
      await store.close();
    } finally {
      client.disconnect();
      await persistent.stop();
    }
  });

  it('says it could not check when Redis refuses CONFIG (a managed Redis)', async () => {
    await admin.acl('SETUSER', 'app', 'on', '>app-password', '~*', '&*', '+@all', '-config');
    const client = new Redis({ host: server.host, port: server.port, username: 'app', password: 'app-password' });
    client.on('error', () => {});
    try {
      const seen = redisWarnings().length;
      const store = new RedisTokenStore({ client, keys, prefix: 'config:' });
      await store.get('1001');
      await until(() => redisWarnings().length > seen, 'the warning');
      expect(redisWarnings().slice(seen)).to.have.length(1);
      expect(redisWarnings()[seen].code).to.equal('SAMSARA_REDIS_CONFIG_UNCHECKED');
      expect(redisWarnings()[seen].message).to.include('could not check').and.not.include('app-password');
      await store.close();
    } finally {
      client.disconnect();
    }
  });
});
