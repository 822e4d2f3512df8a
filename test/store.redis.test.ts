import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { RedisTokenStore, generateSealingKey, type NewCredentials } from 'passport-samsara';
import { ConfigurationError } from 'passport-samsara/errors';
import { until } from './support/clock.js';
import { connect, startRedis, type RedisServer } from './support/redis.js';

const keys = generateSealingKey('kredis');
const grant: NewCredentials = { accessToken: 'a', refreshToken: 'r', expiresAt: 1_900_000_000_000, grantId: 'g1' };

describe('RedisTokenStore: keys, tombstones, subscriptions', () => {
  let server: RedisServer;
  let client: Redis;
  let writer: Redis;
  let store: RedisTokenStore;
  let other: RedisTokenStore;
  const prefix = `redis-test-${process.pid}:`;

  before(async () => {
    server = await startRedis();
    client = connect('ioredis 5', server) as Redis;
    writer = connect('ioredis 5', server) as Redis;
    store = new RedisTokenStore({ client, keys, prefix, tombstoneTtl: 500, pollInterval: 10_000 });
    other = new RedisTokenStore({ client: writer, keys, prefix });
  });
  after(async () => {
    await store?.close();
    await other?.close();
    client?.disconnect();
    writer?.disconnect();
    await server?.stop();
  });

  /** Settles once the next wait on `redis` has read the key's state: a write after it only a message can tell. */
  const nextStateRead = (redis: Redis): Promise<void> => {
    const commands = redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const readState = commands.samsaraTokenState;
    return new Promise<void>((resolve) => {
      commands.samsaraTokenState = async (...args) => {
        commands.samsaraTokenState = readState;
        const answer = await readState.apply(redis, args);
        resolve();
        return answer;
      };
    });
  };

  const numsub = async (key: string): Promise<number> => {
    const [, count] = (await writer.pubsub('NUMSUB', `${prefix}{org:${key}}:done`)) as [string, number];
    return count;
  };

  it("keeps a key's credentials, lock and channel under one hash tag", async () => {
    const { version } = await store.replace('org/1', grant, 10);
    const lock = await store.lock('org/1', 5000);
    expect(await writer.keys(`${prefix}*`)).to.have.members([
      `${prefix}{org:org%2F1}`,
      `${prefix}{org:org%2F1}:lock`,
      `${prefix}{epoch:0}`, // the epoch marker: one per store prefix, not per organization
    ]);
    expect(await writer.hget(`${prefix}{org:org%2F1}`, 'v')).to.equal(String(version));
    await lock!.release();
  });

  it('expires a tombstone after tombstoneTtl and keeps live credentials forever', async () => {
    await store.replace('2', grant, 10);
    await store.forget('2', [grant]);
    const ttl = await writer.pttl(`${prefix}{org:2}`);
    expect(ttl).to.be.within(1, 500);
    const { version } = await store.replace('2', grant, 10);
    expect(await writer.pttl(`${prefix}{org:2}`)).to.equal(-1);
    await store.remove('2', version);
    const left = await writer.pttl(`${prefix}{org:2}`);
    expect(left, 'a removed grant leaves a tombstone too').to.be.within(1, 500);
    // Redis expires a key on the first access past its ttl. A timer may fire up to a millisecond
    // early (Node measures from the loop's cached time): a margin, so the access is surely past it.
    await sleep(left + 10);
    expect(await writer.exists(`${prefix}{org:2}`)).to.equal(0);
  });

  it('a wait woken by a write resolves with what the write made, so the waiter reads nothing, then lets its channel and timers go; by an unlock, with nothing', async () => {
    const { version } = await store.replace('w1', grant, 10);
    // Another process holds the lock, so the waits last. `store` polls every 10 s: only a message
    // can wake them within the test. The write comes once the wait has subscribed and read the
    // state (which would see the write instead).
    const holder = await other.lock('w1', 5_000);
    const stateRead = nextStateRead(client);
    const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const timersBefore = timers();
    const woken = store.waitForChange('w1', version, 5_000);
    await stateRead;
    const rotated = { ...grant, accessToken: 'a2', refreshToken: 'r2' };
    expect(await other.update('w1', rotated, version)).to.not.equal(null);
    expect(await woken).to.deep.equal(await other.get('w1'));
    // Its clean-up follows once the waiter has resumed: the channel let go, the wait's timers cleared.
    await until(async () => (await numsub('w1')) === 0);
    expect(timers(), 'timers the wait left behind').to.equal(timersBefore);

    // A message that names no newer version (here, one already seen) does not end a wait.
    const stale = store.waitForChange('w1', version + 1, 300);
    await until(async () => (await numsub('w1')) === 1);
    const started = Date.now();
    await writer.publish(`${prefix}{org:w1}:done`, `${version + 1} junk`);
    expect(await stale).to.equal(undefined);
    expect(Date.now() - started, 'waited out its timeout').to.be.at.least(200);

    const unlocked = store.waitForChange('w1', version + 1, 5_000);
    await until(async () => (await numsub('w1')) === 1);
    await holder!.release();
    expect(await unlocked, 'an unlock carries no credentials').to.equal(undefined);
  });

  it('never expires a key that holds a retired grant, and seals retired grants too', async () => {
    const retiree: NewCredentials = {
      ...grant,
      accessToken: 'RETIRED-ACCESS',
      refreshToken: 'RETIRED-REFRESH',
      grantId: 'g0',
    };
    await store.replace('5', retiree, 10);
    const { version } = await store.replace('5', grant, 10);
    await store.remove('5', version);
    expect(await writer.pttl(`${prefix}{org:5}`)).to.equal(-1);
    await store.forget('5', []);
    expect(await writer.pttl(`${prefix}{org:5}`)).to.equal(-1);
    const raw = JSON.stringify(await writer.hgetall(`${prefix}{org:5}`));
    expect(raw).to.not.include('RETIRED');
    expect(await store.retired('5')).to.deep.equal([retiree]);
    await store.forget('5', [retiree]);
    expect(await writer.pttl(`${prefix}{org:5}`)).to.be.within(1, 500);
  });

  it('shares one subscription between the waiters of a key, and drops it a while after the last (a wait meanwhile keeps it)', async () => {
    const subscribes = async (): Promise<number> =>
      Number(/cmdstat_subscribe:calls=(\d+)/.exec(await writer.info('commandstats'))?.[1] ?? 0);
    const before = await subscribes();
    const { version } = await other.replace('3', grant, 10);
    const lock = await other.lock('3', 10_000);
    const short = store.waitForChange('3', version, 200);
    const long = store.waitForChange('3', version, 5000);
    await sleep(100);
    expect(await numsub('3')).to.equal(1);
    await short;
    expect(await numsub('3')).to.equal(1);
    const written = await other.update('3', grant, version);
    await long;
    // Nobody waits now: the channel stays subscribed UNSUBSCRIBE_AFTER (100 ms), and a wait that
    // begins meanwhile (here, woken by the next write) finds it subscribed.
    expect(await numsub('3')).to.equal(1);
    const next = store.waitForChange('3', written!.version, 5000);
    await sleep(150);
    expect(await numsub('3'), 'kept by the wait that began meanwhile').to.equal(1);
    await other.update('3', grant, written!.version);
    await next;
    const left = performance.now();
    await until(async () => (await numsub('3')) === 0, 'the last waiter to unsubscribe');
    expect(performance.now() - left, 'dropped after the linger, not at once').to.be.at.least(90);
    expect((await subscribes()) - before, 'SUBSCRIBE commands for three waits').to.equal(1);
    await lock!.release();
  });

  it('keeps no failed SUBSCRIBE: a wait right after one subscribes again (here, once the ACL lets it) and is woken', async () => {
    // A user whose ACL allows no channel: SUBSCRIBE fails with NOPERM, every other command works.
    await writer.call('ACL', 'SETUSER', 'waiter', 'on', 'nopass', '~*', '+@all', 'resetchannels');
    const restricted = new Redis({ host: server.host, port: server.port, username: 'waiter', password: 'x' });
    restricted.on('error', () => {});
    const waiting = new RedisTokenStore({ client: restricted, keys, prefix, pollInterval: 10_000 });
    const { version } = await other.replace('acl1', grant, 10);
    const lock = await other.lock('acl1', 10_000);
    try {
      const refused = await waiting.waitForChange('acl1', version, 2_000).then(
        () => 'resolved',
        (err: Error) => err.message,
      );
      expect(refused).to.match(/NOPERM|subscribe/i);
      await writer.call('ACL', 'SETUSER', 'waiter', 'allchannels');
      // Within the linger of the failed subscription: the wait must not reuse it.
      const stateRead = nextStateRead(restricted);
      const woken = waiting.waitForChange('acl1', version, 5_000);
      await stateRead;
      expect(await numsub('acl1'), 'subscribed').to.equal(1);
      await other.update('acl1', { ...grant, accessToken: 'a3', refreshToken: 'r3' }, version);
      expect(await woken).to.deep.equal(await other.get('acl1'));
    } finally {
      await lock?.release();
      await waiting.close();
      restricted.disconnect();
      await writer.call('ACL', 'DELUSER', 'waiter');
    }
  });

  it('subscribes while its own connection is still handshaking, without failing the waits (ioredis ready check)', async () => {
    // A SUBSCRIBE sent in ioredis's 'connect' phase (it may: SUBSCRIBE works while Redis loads)
    // puts the connection in subscriber mode before ioredis sends its own handshake, which Redis
    // then refuses: ioredis failed its ready check and rejected every subscribe in flight.
    const fresh = connect('ioredis 5', server) as Redis;
    const duplicate = fresh.duplicate.bind(fresh);
    let connecting: Promise<void> | undefined;
    const waits: Promise<unknown>[] = [];
    const lonely = new RedisTokenStore({ client: fresh, keys, prefix, pollInterval: 10_000 });
    const held = await Promise.all(['hs1', 'hs2', 'hs3'].map((key) => other.lock(key, 5_000)));
    fresh.duplicate = (...args: Parameters<Redis['duplicate']>) => {
      const subscriber = duplicate(...args);
      connecting = new Promise((resolve) =>
        subscriber.once('connect', () => {
          // What the sync job did: more waits begin while the first one's connection is in 'connect'.
          waits.push(lonely.waitForChange('hs2', 0, 300), lonely.waitForChange('hs3', 0, 300));
          resolve();
        }),
      );
      return subscriber;
    };
    try {
      waits.push(lonely.waitForChange('hs1', 0, 300));
      await until(() => connecting !== undefined);
      await connecting;
      const outcomes = await Promise.allSettled(waits);
      expect(outcomes.map((outcome) => (outcome.status === 'rejected' ? String(outcome.reason) : 'ok'))).to.deep.equal([
        'ok',
        'ok',
        'ok',
      ]);
    } finally {
      for (const lock of held) await lock?.release();
      await lonely.close();
      fresh.disconnect();
    }
  });

  it('close() wakes the waiters and ends its own connection, never the client', async () => {
    const closing = new RedisTokenStore({ client, keys, prefix, pollInterval: 10_000 });
    const { version } = await other.replace('4', grant, 10);
    const lock = await other.lock('4', 10_000);
    const waiting = closing.waitForChange('4', version, 5000);
    await until(async () => (await numsub('4')) === 1, 'the waiter to subscribe');
    const connections = async (): Promise<number> => ((await writer.client('LIST')) as string).split('\n').length;
    const before = await connections();
    const started = Date.now();
    await closing.close();
    await waiting;
    expect(Date.now() - started).to.be.below(100);
    await until(async () => (await connections()) < before, 'the subscriber connection to close');
    expect(await client.ping()).to.equal('PONG');
    // Without its subscriber, a closed store's waits still end, by polling.
    await closing.waitForChange('4', version, 100); // resolves: it ended
    await lock!.release();
  });

  it('rejects a prefix that would break the hash tag, and non-positive durations', () => {
    expect(() => new RedisTokenStore({ client, keys, prefix: 'app:{x}:' })).to.throw(ConfigurationError, /hash tag/);
    expect(() => new RedisTokenStore({ client, keys, timeout: 0 })).to.throw(ConfigurationError, /timeout/);
    expect(() => new RedisTokenStore({ client, keys, pollInterval: Number.NaN })).to.throw(
      ConfigurationError,
      /pollInterval/,
    );
  });

  it('loads without ioredis installed (it is an optional peer)', async () => {
    const script = `
      const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (/^ioredis/.test(request)) throw new Error('ioredis was required');
        return resolve.call(this, request, ...rest);
      };
      const { MemoryTokenStore, RedisTokenStore } = require('passport-samsara');
      new MemoryTokenStore();
      console.log(typeof RedisTokenStore);`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: __dirname });
    expect(stdout.trim()).to.equal('function');
  });
});
