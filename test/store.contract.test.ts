import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  MemoryTokenStore,
  RedisTokenStore,
  generateSealingKey,
  type NewCredentials,
  type OrganizationStatus,
  type TokenStore,
} from 'passport-samsara';
import { fakeClock } from './support/clock.js';
import { connect, startRedis, startRedisCluster, type RedisFlavor } from './support/redis.js';

/** Two handles on one backend, as two processes of a fleet would hold, and the time they run on. */
interface Backend {
  stores: [TokenStore, TokenStore];
  time: Time;
  teardown(): Promise<void>;
}

/**
 * The backend's time. MemoryTokenStore runs on a fake clock, so its waits are checked to the
 * millisecond and cost nothing; Redis expires keys and delivers messages on its own, real time,
 * so a Redis store's waits are measured, within a margin.
 */
interface Time {
  now(): number;
  /** Lets `ms` pass. */
  pass(ms: number): Promise<void>;
  /** Lets a ttl of `ms` run out: exactly `ms` on the fake clock, a little more on a real one. */
  outlive(ms: number): Promise<void>;
  /** Starts timing a wait; `elapsed()` is how long it took to settle, from now. */
  watch(wait: Promise<unknown>): { elapsed(): Promise<number> };
  /** How much earlier or later than its mark a wait may end (0 and 0 on the fake clock). */
  early: number;
  late: number;
}

function fakeTime(): { clock: ReturnType<typeof fakeClock>; time: Time } {
  const clock = fakeClock();
  return {
    clock,
    time: {
      now: clock.now,
      pass: clock.tick,
      outlive: clock.tick,
      watch(wait) {
        const started = clock.now();
        let ended: number | undefined;
        let failed: { error: unknown } | undefined;
        void wait.then(
          () => (ended = clock.now()),
          (error: unknown) => (failed = { error }),
        );
        return {
          // Everything the memory store does happens in promises: by the time the test looks,
          // a wait that was due has ended.
          async elapsed() {
            await new Promise(setImmediate);
            if (failed) throw failed.error;
            if (ended === undefined) throw new Error(`still waiting after ${clock.now() - started} ms of fake time`);
            return ended - started;
          },
        };
      },
      early: 0,
      late: 0,
    },
  };
}

const realTime: Time = {
  now: () => Date.now(),
  pass: (ms) => sleep(ms),
  // Redis expires a key on the first access past its ttl; the margin covers timer granularity.
  outlive: (ms) => sleep(ms + 10),
  watch(wait) {
    const started = Date.now();
    const ended = wait.then(() => Date.now());
    ended.catch(() => undefined); // the test sees a failure when it asks for the time
    return { elapsed: async () => (await ended) - started };
  },
  // Pub/sub and the lock's expiry notice travel through Redis: allow for a loaded machine.
  early: 20,
  late: 700,
};

async function redisBackend(flavor: RedisFlavor): Promise<Backend> {
  const target = flavor === 'ioredis 5 Cluster' ? await startRedisCluster() : await startRedis();
  const clients = [connect(flavor, target), connect(flavor, target)];
  const keys = generateSealingKey('ktest');
  // A long poll interval proves that waiters wake by pub/sub and the lock's expiry, not by polling.
  const stores = clients.map((client) => new RedisTokenStore({ client, keys, pollInterval: 10_000 }));
  return {
    stores: [stores[0], stores[1]],
    time: realTime,
    teardown: async () => {
      await Promise.all(stores.map((store) => store.close()));
      clients.forEach((client) => client.disconnect());
      await target.stop();
    },
  };
}

const backends: [string, () => Promise<Backend>][] = [
  [
    'MemoryTokenStore',
    async () => {
      const { clock, time } = fakeTime();
      const store = new MemoryTokenStore({ clock });
      return { stores: [store, store], time, teardown: async () => {} };
    },
  ],
  ['RedisTokenStore on ioredis 5', () => redisBackend('ioredis 5')],
  ['RedisTokenStore on ioredis 6', () => redisBackend('ioredis 6')],
  ['RedisTokenStore on a 3-node Cluster', () => redisBackend('ioredis 5 Cluster')],
];

let serial = 0;
const freshKey = (): string => `org-${++serial}`;
/** The tokens of grant `n`, at rotation `turn` (a refresh rotates the tokens, not the grant). */
const grant = (n: number, turn = 0): NewCredentials => ({
  accessToken: `access-${n}-${turn}`,
  refreshToken: `refresh-${n}-${turn}`,
  expiresAt: 1_900_000_000_000 + n,
  scope: 'admin:read',
  grantId: `g${n}`,
});
const MAX = 3;
const ids = (grants: NewCredentials[]): string[] => grants.map((g) => g.grantId);
/** What a Disconnect revoked: grant `n`'s tokens at rotation `turn`. */
const revoked = (n: number, turn = 0): { grantId: string; refreshToken: string } => ({
  grantId: `g${n}`,
  refreshToken: `refresh-${n}-${turn}`,
});

for (const [name, start] of backends) {
  describe(`TokenStore contract: ${name}`, () => {
    let backend: Backend;
    let store: TokenStore;
    let other: TokenStore;
    let time: Time;
    /** Asserts that a wait took `ms`: exactly on the fake clock, within the margins on a real one. */
    const tookAbout = (elapsed: number, ms: number): void =>
      void expect(elapsed).to.be.within(ms - time.early, ms + time.late);

    before(async () => {
      backend = await start();
      [store, other] = backend.stores;
      time = backend.time;
    });
    after(() => backend?.teardown());

    describe('reads and writes', () => {
      it('returns null and no retired grants for a key never written', async () => {
        const key = freshKey();
        expect(await store.get(key)).to.equal(null);
        expect(await store.retired(key)).to.deep.equal([]);
      });

      it('replace writes unconditionally and bumps the version each time', async () => {
        const key = freshKey();
        const first = await store.replace(key, grant(1), MAX);
        expect(first).to.deep.equal({ ...grant(1), version: first.version });
        expect(await other.replace(key, grant(2), MAX)).to.deep.equal({ ...grant(2), version: first.version + 1 });
        expect(await store.get(key)).to.deep.equal({ ...grant(2), version: first.version + 1 });
      });

      it('keeps credentials without a scope', async () => {
        const key = freshKey();
        const bare: NewCredentials = { accessToken: 'a', refreshToken: 'r', expiresAt: 1, grantId: 'g' };
        const { version } = await store.replace(key, bare, MAX);
        expect(await other.get(key)).to.deep.equal({ ...bare, version });
      });

      it('keeps only the fields it stores', async () => {
        const key = freshKey();
        const stale = { ...grant(1), version: 7, extra: 'not stored' } as NewCredentials;
        const { version } = await store.replace(key, stale, MAX);
        expect(await other.get(key)).to.deep.equal({ ...grant(1), version });
      });

      it('keeps keys apart whatever characters they hold', async () => {
        const base = `odd ${freshKey()}`;
        await store.replace(`${base}{x}:lock/é`, grant(1), MAX);
        await store.replace(base, grant(2), MAX);
        expect((await store.get(`${base}{x}:lock/é`))?.accessToken).to.equal('access-1-0');
        expect((await store.get(base))?.accessToken).to.equal('access-2-0');
      });

      it('update is a compare-and-set on the version', async () => {
        const key = freshKey();
        const first = await store.replace(key, grant(1), MAX);
        expect(await other.update(key, grant(1, 1), first.version)).to.deep.equal({
          ...grant(1, 1),
          version: first.version + 1,
        });
        expect(await store.update(key, grant(1, 2), first.version)).to.equal(null);
        expect(await store.get(key)).to.deep.equal({ ...grant(1, 1), version: first.version + 1 });
      });

      it('update written again with the very tokens already current returns them (a retried write)', async () => {
        const key = freshKey();
        const first = await store.replace(key, grant(1), MAX);
        const next = await store.update(key, grant(1, 1), first.version);
        expect(await other.update(key, grant(1, 1), first.version)).to.deep.equal(next);
        expect(await other.update(key, grant(1, 2), first.version), 'other tokens still lose').to.equal(null);
      });

      it('update does not create a key', async () => {
        const key = freshKey();
        expect(await store.update(key, grant(1), 0)).to.equal(null);
        expect(await store.get(key)).to.equal(null);
      });

      it("starts a key's versions at the clock, so they never repeat across its lifetimes", async () => {
        const before = time.now();
        const { version } = await store.replace(freshKey(), grant(1), MAX);
        expect(version).to.be.within(before, time.now() + 1_000);
      });
    });

    describe('retired grants', () => {
      it('replace retires the grant it replaces, oldest first, and never the same grant', async () => {
        const key = freshKey();
        await store.replace(key, grant(1), MAX);
        const rotated = await store.update(key, grant(1, 1), (await store.get(key))!.version);
        // The same grant signed in again (a retried sign-in): the newer rotation stays.
        expect(await other.replace(key, grant(1), MAX)).to.deep.equal(rotated);
        expect(await store.retired(key), 'the same grant signed in again').to.deep.equal([]);
        await other.replace(key, grant(2), MAX);
        await store.replace(key, grant(3), MAX);
        expect(await other.retired(key)).to.deep.equal([grant(1, 1), grant(2)]);
        expect(await store.get(key)).to.include(grant(3));
      });

      it('keeps at most maxRetired, dropping the oldest', async () => {
        const key = freshKey();
        for (let n = 1; n <= 5; n++) await store.replace(key, grant(n), MAX);
        expect(ids(await other.retired(key))).to.deep.equal(['g2', 'g3', 'g4']);
      });

      it('retire leaves the current grant alone, updates a retired one, appends a new one', async () => {
        const key = freshKey();
        await store.replace(key, grant(1), MAX);
        const current = await store.replace(key, grant(2), MAX);
        expect(await other.retire(key, grant(2, 5), MAX, true)).to.equal(true);
        expect(await store.get(key)).to.deep.equal(current);
        expect(await other.retire(key, grant(1, 1), MAX, true)).to.equal(true);
        expect(await other.retire(key, grant(9), MAX, true)).to.equal(true);
        expect(await store.retired(key)).to.deep.equal([grant(1, 1), grant(9)]);
        expect(await store.get(key), 'the current grant and its version are untouched').to.deep.equal(current);
      });

      it('retire with onlyIfKept writes nothing where no grant is kept', async () => {
        const key = freshKey();
        expect(await store.retire(key, grant(1), MAX, true)).to.equal(false);
        expect(await store.retired(key)).to.deep.equal([]);
        expect(await store.retire(key, grant(1), MAX, false)).to.equal(true);
        expect(await other.retired(key)).to.deep.equal([grant(1)]);
        expect(await other.retire(key, grant(2), MAX, true), 'a retired grant is a kept grant').to.equal(true);
      });

      it('forget removes exactly the grants named, and a forgotten current grant leaves a final tombstone', async () => {
        const key = freshKey();
        await store.replace(key, grant(1), MAX);
        await store.replace(key, grant(2), MAX);
        const { version } = await store.replace(key, grant(3), MAX);
        await other.forget(key, [revoked(1), revoked(7)]);
        expect(ids(await store.retired(key))).to.deep.equal(['g2']);
        expect(await store.get(key)).to.include(grant(3));
        await other.forget(key, [revoked(3)]);
        expect(await store.get(key)).to.equal(null);
        expect(ids(await store.retired(key)), 'g2 was not named').to.deep.equal(['g2']);
        expect(await other.update(key, grant(3, 1), version), 'a late refresh of g3').to.equal(null);
        expect(await store.get(key)).to.equal(null);
      });

      it('forget does not touch a current grant that replaced the one it read', async () => {
        const key = freshKey();
        await store.replace(key, grant(1), MAX);
        const newer = await other.replace(key, grant(2), MAX); // a sign-in that raced a Disconnect of g1
        await store.forget(key, [revoked(1)]);
        expect(await other.get(key)).to.deep.equal(newer);
        expect(await store.retired(key)).to.deep.equal([]);
      });

      it('forget leaves newer tokens of a grant it names: a late writer landed them after the read', async () => {
        const key = freshKey();
        await store.replace(key, grant(1), MAX);
        const first = await store.replace(key, grant(2), MAX);
        // A Disconnect reads g2 at turn 0 and g1; a late writer lands g2's next tokens meanwhile.
        await other.update(key, grant(2, 1), first.version);
        await other.retire(key, grant(1, 1), MAX, true); // and a lost refresh of g1 is retired
        await store.forget(key, [revoked(1), revoked(2)]);
        expect(await other.get(key)).to.include(grant(2, 1));
        expect(await other.retired(key)).to.deep.equal([grant(1, 1)]);
        await store.forget(key, [revoked(1, 1), revoked(2, 1)]);
        expect(await other.get(key)).to.equal(null);
        expect(await other.retired(key)).to.deep.equal([]);
      });

      it("a retired grant survives the current grant's removal", async () => {
        const key = freshKey();
        await store.replace(key, grant(1), MAX);
        const { version } = await store.replace(key, grant(2), MAX);
        expect(await other.remove(key, version)).to.equal(true);
        await other.forget(key, [revoked(2)]);
        expect(await store.retired(key)).to.deep.equal([grant(1)]);
      });
    });

    describe('list (connected organizations)', () => {
      /** What `list` yields for the keys that start with `tag`, by key. */
      async function listed(tag: string): Promise<Map<string, OrganizationStatus>> {
        const found = new Map<string, OrganizationStatus>();
        for await (const status of other.list()) {
          if (!status.orgId.startsWith(tag)) continue;
          expect(found.has(status.orgId), `${status.orgId} listed twice`).to.equal(false);
          found.set(status.orgId, status);
        }
        return found;
      }

      it('lists every key with a current grant, with its status and never a token', async () => {
        const tag = `${freshKey()}-`;
        const before = Date.now();
        const a = await store.replace(`${tag}a`, grant(1), MAX);
        const b = await store.replace(`${tag}b`, { ...grant(2), region: 'eu', clientID: 'eu-app' }, MAX);
        const found = await listed(tag);
        expect([...found.keys()].sort()).to.deep.equal([`${tag}a`, `${tag}b`]);
        expect(found.get(`${tag}a`)).to.deep.include({
          orgId: `${tag}a`,
          grantId: 'g1',
          expiresAt: a.expiresAt,
          version: a.version,
        });
        expect(found.get(`${tag}a`)).to.not.have.property('region');
        expect(found.get(`${tag}b`)).to.deep.include({
          grantId: 'g2',
          version: b.version,
          region: 'eu',
          clientID: 'eu-app',
        });
        for (const status of found.values()) {
          expect(status.writtenAt).to.be.within(before - 1_000, Date.now() + 1_000);
          expect(JSON.stringify(status)).to.not.match(/access-|refresh-/);
        }
      });

      it('follows writes: a refresh moves the version, the expiry and the time written', async () => {
        const key = `${freshKey()}-`;
        const first = await store.replace(key, grant(1), MAX);
        const written = (await listed(key)).get(key)!;
        const next = await other.update(key, { ...grant(1, 1), expiresAt: first.expiresAt + 3_600_000 }, first.version);
        const status = (await listed(key)).get(key)!;
        expect(status).to.deep.include({ version: next!.version, expiresAt: first.expiresAt + 3_600_000 });
        expect(status.writtenAt).to.be.at.least(written.writtenAt);
      });

      it('leaves out tombstones, keys holding only retired grants, and keys that were only locked', async () => {
        const tag = `${freshKey()}-`;
        await store.replace(`${tag}kept`, grant(1), MAX);
        await store.replace(`${tag}signed-out`, grant(2), MAX);
        await store.forget(`${tag}signed-out`, [revoked(2)]);
        const dead = await store.replace(`${tag}dead`, grant(3), MAX);
        await store.remove(`${tag}dead`, dead.version);
        await store.replace(`${tag}retired-only`, grant(4), MAX);
        await store.replace(`${tag}retired-only`, grant(5), MAX);
        await store.forget(`${tag}retired-only`, [revoked(5)]);
        expect((await store.retired(`${tag}retired-only`)).length).to.equal(1);
        const lock = await store.lock(`${tag}locked`, 10_000);
        expect([...(await listed(tag)).keys()]).to.deep.equal([`${tag}kept`]);
        await lock!.release();
      });

      it('lists a key again after a sign-in over its tombstone', async () => {
        const key = `${freshKey()}-`;
        await store.replace(key, grant(1), MAX);
        await store.forget(key, [revoked(1)]);
        expect((await listed(key)).size).to.equal(0);
        await other.replace(key, grant(2), MAX);
        expect((await listed(key)).get(key)?.grantId).to.equal('g2');
      });

      it('gives keys back exactly, whatever characters they hold', async () => {
        const tag = `${freshKey()}-`;
        const odd = [`${tag}{x}:lock/é`, `${tag}*?[a]\\`, `${tag}%7D%`];
        for (const key of odd) await store.replace(key, grant(1), MAX);
        expect([...(await listed(tag)).keys()].sort()).to.deep.equal([...odd].sort());
      });

      it('lists hundreds of keys, each once, wherever they live (every master of a Cluster)', async () => {
        const tag = `${freshKey()}-`;
        const keys = Array.from({ length: 600 }, (_, i) => `${tag}${i}`);
        await Promise.all(keys.map((key) => store.replace(key, grant(1), MAX)));
        expect([...(await listed(tag)).keys()].sort()).to.deep.equal([...keys].sort());
      });
    });

    describe('remove (a dead grant)', () => {
      it('removes only the version it names', async () => {
        const key = freshKey();
        await store.replace(key, grant(1), MAX);
        const second = await store.replace(key, grant(2), MAX);
        expect(await other.remove(key, second.version - 1)).to.equal(false);
        expect(await store.get(key)).to.deep.equal(second);
        expect(await other.remove(key, second.version)).to.equal(true);
        expect(await store.get(key)).to.equal(null);
      });

      it('does nothing to a key never written', async () => {
        expect(await store.remove(freshKey(), 1)).to.equal(false);
      });

      it('is followed by a replace that continues past the tombstone version', async () => {
        const key = freshKey();
        const first = await store.replace(key, grant(1), MAX);
        await store.remove(key, first.version);
        expect(await other.replace(key, grant(2), MAX)).to.deep.equal({ ...grant(2), version: first.version + 2 });
      });

      it('lets a late update expecting that version land, once', async () => {
        const key = freshKey();
        const { version } = await store.replace(key, grant(1), MAX);
        expect(await store.remove(key, version)).to.equal(true);
        expect(await other.update(key, grant(1, 1), version + 1), "the tombstone's own version").to.equal(null);
        const revived = await other.update(key, grant(1, 1), version);
        expect(revived).to.deep.equal({ ...grant(1, 1), version: version + 2 });
        expect(await store.get(key)).to.deep.equal(revived);
        expect(await store.update(key, grant(1, 2), version), 'the revival is spent').to.equal(null);
      });

      it('is made final by a forget (a sign-out): no late update revives the key', async () => {
        const key = freshKey();
        const { version } = await store.replace(key, grant(1), MAX);
        await store.remove(key, version);
        await store.forget(key, []);
        expect(await other.update(key, grant(1, 1), version)).to.equal(null);
        expect(await store.get(key)).to.equal(null);
      });

      it('does nothing to a tombstone', async () => {
        const key = freshKey();
        const { version } = await store.replace(key, grant(1), MAX);
        await store.forget(key, [revoked(1)]);
        expect(await store.remove(key, version + 1)).to.equal(false);
      });
    });

    describe('lock', () => {
      it('is exclusive until released', async () => {
        const key = freshKey();
        const held = await store.lock(key, 5000);
        expect(held).to.not.equal(null);
        expect(await other.lock(key, 5000)).to.equal(null);
        expect(await store.lock(key, 5000)).to.equal(null);
        await held!.release();
        const next = await other.lock(key, 5000);
        expect(next).to.not.equal(null);
        await next!.release();
      });

      it('comes with the current credentials as they stood when it was taken: none, written, removed', async () => {
        const key = freshKey();
        const none = await store.lock(key, 5000);
        expect(none?.current).to.equal(null);
        await none!.release();
        const written = await store.replace(key, grant(1), MAX);
        const held = await other.lock(key, 5000);
        expect(held?.current).to.deep.equal(await store.get(key));
        expect(held?.current?.version).to.equal(written.version);
        await held!.release();
        await store.remove(key, written.version);
        const removed = await store.lock(key, 5000);
        expect(removed?.current).to.equal(null);
        await removed!.release();
      });

      it('extend holds it longer, takes it again once it vanished, and fails while someone else holds it', async () => {
        const key = freshKey();
        const held = (await store.lock(key, 50))!;
        expect(await held.extend?.(5000)).to.equal(true);
        await time.outlive(50);
        expect(await other.lock(key, 5000), 'extended past its first ttl').to.equal(null);
        await held.release();
        expect(await held.extend?.(5000), 'taken again after it vanished').to.equal(true);
        expect(await other.lock(key, 5000)).to.equal(null);
        await held.release();
        const successor = (await other.lock(key, 5000))!;
        expect(await held.extend?.(5000), "never over someone else's").to.equal(false);
        await successor.release();
      });

      it("release is compare-and-delete: an expired holder cannot free its successor's lock", async () => {
        const key = freshKey();
        const stale = await store.lock(key, 50);
        await time.outlive(50);
        const successor = await other.lock(key, 5000);
        expect(successor).to.not.equal(null);
        await stale!.release();
        expect(await store.lock(key, 5000)).to.equal(null);
        await successor!.release();
      });

      it('expires after its ttl', async () => {
        const key = freshKey();
        expect(await store.lock(key, 80)).to.not.equal(null);
        expect(await other.lock(key, 80)).to.equal(null);
        if (time.late === 0) {
          // On the fake clock, to the millisecond.
          await time.pass(79);
          expect(await other.lock(key, 80)).to.equal(null);
          await time.pass(1);
        } else {
          await time.outlive(80);
        }
        expect(await other.lock(key, 5000)).to.not.equal(null);
      });
    });

    describe('claim (set-if-absent with a ttl)', () => {
      const claim = (on: TokenStore, name: string, ttl: number) => on.claim!(name, ttl);

      it('goes to the first caller only, across processes, until it is released', async () => {
        const name = `claim-${freshKey()}`;
        const first = await claim(store, name, 5000);
        expect(first.claim).to.not.equal(null);
        expect(await claim(other, name, 5000)).to.deep.equal({ claim: null, done: false });
        expect(await claim(store, name, 5000)).to.deep.equal({ claim: null, done: false });
        await first.claim!.release();
        const next = await claim(other, name, 5000);
        expect(next.claim, 'released: the next attempt claims it').to.not.equal(null);
        await next.claim!.release();
      });

      it('stays claimed, as done, for the ttl complete gives, and is free again after it', async () => {
        const name = `claim-${freshKey()}`;
        const first = await claim(store, name, 50);
        await first.claim!.complete(300);
        await time.outlive(50);
        expect(await claim(other, name, 5000), 'past the pending ttl: the done ttl counts').to.deep.equal({
          claim: null,
          done: true,
        });
        await first.claim!.release();
        expect(await claim(other, name, 5000), 'a completed claim is not released').to.deep.equal({
          claim: null,
          done: true,
        });
        await time.outlive(300);
        const again = await claim(other, name, 5000);
        expect(again.claim).to.not.equal(null);
        await again.claim!.release();
      });

      it("expires while pending (a holder that died), and the late holder cannot settle its successor's claim", async () => {
        const name = `claim-${freshKey()}`;
        const stale = await claim(store, name, 80);
        await time.outlive(80);
        const successor = await claim(other, name, 5000);
        expect(successor.claim).to.not.equal(null);
        await stale.claim!.release();
        expect(await claim(store, name, 5000), 'the late release freed nothing').to.deep.equal({
          claim: null,
          done: false,
        });
        await stale.claim!.complete(5000);
        expect(await claim(store, name, 5000), 'the late completion marked nothing').to.deep.equal({
          claim: null,
          done: false,
        });
        await successor.claim!.complete(5000);
        expect(await claim(store, name, 5000)).to.deep.equal({ claim: null, done: true });
      });

      it('gives one claim to 20 callers at once, on both handles', async () => {
        const name = `claim-${freshKey()}`;
        const all = await Promise.all(Array.from({ length: 20 }, (_, i) => claim(i % 2 ? store : other, name, 5000)));
        expect(all.filter((taken) => taken.claim !== null)).to.have.length(1);
      });

      it('keeps names apart whatever characters they hold, and apart from the credentials', async () => {
        const key = freshKey();
        await store.replace(key, grant(1), MAX);
        const names = [key, `${key}:lock`, `{org:${key}}`, `${key} é/?*`, `${key}%20`];
        const taken = await Promise.all(names.map((name) => claim(store, name, 5000)));
        expect(taken.every((each) => each.claim !== null)).to.equal(true);
        expect(await store.get(key)).to.deep.include(grant(1));
        const lock = await other.lock(key, 5000);
        expect(lock, "a claim named like a key is not the key's lock").to.not.equal(null);
        await lock!.release();
        const listed: string[] = [];
        for await (const org of store.list()) listed.push(org.orgId);
        expect(listed.filter((orgId) => orgId.includes(key))).to.deep.equal([key]);
      });
    });

    describe('waitForChange', () => {
      it('wakes on an update by another process', async () => {
        const key = freshKey();
        const { version } = await store.replace(key, grant(1), MAX);
        const lock = await other.lock(key, 10_000);
        const waiting = time.watch(store.waitForChange(key, version, time.now() + 5000));
        await time.pass(100);
        await other.update(key, grant(1, 1), version);
        tookAbout(await waiting.elapsed(), 100);
        await lock!.release();
      });

      it('wakes when the holder releases the lock', async () => {
        const key = freshKey();
        const { version } = await store.replace(key, grant(1), MAX);
        const lock = await other.lock(key, 10_000);
        const waiting = time.watch(store.waitForChange(key, version, time.now() + 5000));
        await time.pass(100);
        await lock!.release();
        tookAbout(await waiting.elapsed(), 100);
      });

      it('wakes when the lock expires (a holder that died)', async () => {
        const key = freshKey();
        const { version } = await store.replace(key, grant(1), MAX);
        await other.lock(key, 300);
        const waiting = time.watch(store.waitForChange(key, version, time.now() + 5000));
        await time.pass(300);
        tookAbout(await waiting.elapsed(), 300);
      });

      it('returns at the deadline when nothing happens', async () => {
        const key = freshKey();
        const { version } = await store.replace(key, grant(1), MAX);
        const lock = await other.lock(key, 10_000);
        const waiting = time.watch(store.waitForChange(key, version, time.now() + 300));
        await time.pass(300);
        tookAbout(await waiting.elapsed(), 300);
        await lock!.release();
      });

      it('returns at once when the version already moved', async () => {
        const key = freshKey();
        await store.replace(key, grant(1), MAX);
        const { version } = await other.replace(key, grant(2), MAX);
        const lock = await other.lock(key, 10_000);
        tookAbout(await time.watch(store.waitForChange(key, version - 1, time.now() + 5000)).elapsed(), 0);
        await lock!.release();
      });

      it('returns at once when no one holds the lock', async () => {
        const key = freshKey();
        const { version } = await store.replace(key, grant(1), MAX);
        tookAbout(await time.watch(store.waitForChange(key, version, time.now() + 5000)).elapsed(), 0);
      });
    });
  });
}
