import { expect } from 'chai';
import type { Cluster, Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisTokenStore, generateSealingKey, type NewCredentials } from 'passport-samsara';
import { StoreUnavailableError } from 'passport-samsara/errors';
import { connect, startRedis, type RedisServer } from './support/redis.js';

const TIMEOUT = 300;
const keys = generateSealingKey('kdown');
const grant = (n: number): NewCredentials => ({
  accessToken: `ACCESS-SECRET-${n}`,
  refreshToken: `REFRESH-SECRET-${n}`,
  expiresAt: 1_900_000_000_000,
  grantId: `g${n}`,
});

/** Resolves with how long `operation` took to fail, after checking it failed the right way. */
async function unavailable(operation: Promise<unknown>): Promise<number> {
  const started = Date.now();
  const error = await operation.then(
    () => expect.fail('the operation succeeded while Redis was down'),
    (err: unknown) => err,
  );
  expect(error).to.be.instanceOf(StoreUnavailableError).with.property('status', 503);
  expect((error as Error).message).to.not.match(/SECRET/);
  return Date.now() - started;
}

/** Retries `operation` until Redis is back, as an app's next requests would. */
async function eventually<T>(operation: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await operation();
    } catch (err) {
      if (!(err instanceof StoreUnavailableError) || Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}

for (const flavor of ['ioredis 5', 'ioredis 6'] as const) {
  describe(`RedisTokenStore while Redis is down (${flavor})`, () => {
    let server: RedisServer;
    let client: Redis | Cluster;
    let store: RedisTokenStore;

    beforeEach(async () => {
      server = await startRedis();
      client = connect(flavor, server);
      store = new RedisTokenStore({ client, keys, timeout: TIMEOUT, pollInterval: 50 });
    });
    afterEach(async () => {
      await store?.close();
      client?.disconnect();
      await server?.stop();
    });

    /** The operations of a refresh, each of which must fail fast. */
    function everyOperation(): Promise<unknown>[] {
      return [
        store.get('org'),
        // ioredis may deliver these after recovery: a timeout is no rollback. So they touch a
        // scratch key or expect a stale version, and change nothing the test checks.
        store.replace('scratch', grant(9), 10),
        store.update('org', grant(9), 99),
        store.remove('org', 99),
        store.retire('org', grant(9), 10, true),
        store.retired('org'),
        store.lock('other', 100),
        store.waitForChange('org', 1, 10_000),
      ];
    }

    it('fails every operation with StoreUnavailableError within the timeout after SIGKILL, and recovers after a restart', async () => {
      const { version } = await store.replace('org', grant(1), 10);
      const held = await store.lock('org', 10_000);
      const waiting = unavailable(store.waitForChange('org', version, 10_000));
      await sleep(50);
      await server.kill();

      const durations = await Promise.all(everyOperation().map(unavailable));
      for (const ms of durations) expect(ms).to.be.below(TIMEOUT + 200);
      // An ongoing wait notices at its next poll.
      expect(await waiting).to.be.below(TIMEOUT + 500);

      await server.restart();
      expect(await eventually(() => store.get('org'))).to.equal(null);
      const rewritten = await store.replace('org', grant(2), 10);
      await held!.release();
      const lock = await store.lock('org', 10_000);
      expect(lock).to.not.equal(null);
      const woken = store.waitForChange('org', rewritten.version, 5000);
      await lock!.release();
      await woken;
    });

    it('fails every operation with StoreUnavailableError within the timeout under SIGSTOP, and keeps the data after SIGCONT', async () => {
      const written = await store.replace('org', grant(1), 10);
      server.pause();
      try {
        const durations = await Promise.all(everyOperation().map(unavailable));
        for (const ms of durations) expect(ms).to.be.below(TIMEOUT + 200);
      } finally {
        server.resume();
      }
      expect(await eventually(() => store.get('org'))).to.deep.equal(written);
      expect(await store.update('org', grant(2), written.version)).to.deep.equal({
        ...grant(2),
        version: written.version + 1,
      });
      expect(await store.lock('org', 1000)).to.not.equal(null);
    });
  });
}
