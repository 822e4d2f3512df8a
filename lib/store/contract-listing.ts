import assert from 'node:assert/strict';
import type { OrganizationStatus, TokenStore } from '../tokens/store.js';
import {
  MAX,
  freshKey,
  grant,
  includes,
  lacks,
  revoked,
  within,
  type ContractFramework,
  type ContractScope,
  type ContractTime,
} from './contract-support.js';

/** Registers the contract's tests of listing and claims. */
export function listingTests(
  { describe, it, before }: ContractFramework,
  scope: ContractScope,
  withClaims: boolean,
): void {
  let store!: TokenStore;
  let other!: TokenStore;
  let time!: ContractTime;
  before(async () => {
    ({ store, other, time } = scope);
  });
  describe('list (connected organizations)', () => {
    /** What `list` yields for the keys that start with `tag`, by key. */
    async function listed(tag: string): Promise<Map<string, OrganizationStatus>> {
      const found = new Map<string, OrganizationStatus>();
      for await (const status of other.list()) {
        if (!status.orgId.startsWith(tag)) continue;
        assert.equal(found.has(status.orgId), false, `${status.orgId} listed twice`);
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
      assert.deepEqual([...found.keys()].sort(), [`${tag}a`, `${tag}b`]);
      includes(found.get(`${tag}a`), {
        orgId: `${tag}a`,
        grantId: 'g1',
        expiresAt: a.expiresAt,
        version: a.version,
      });
      lacks(found.get(`${tag}a`), 'region');
      includes(found.get(`${tag}b`), {
        grantId: 'g2',
        version: b.version,
        region: 'eu',
        clientID: 'eu-app',
      });
      for (const status of found.values()) {
        within(status.writtenAt, before - 1_000, Date.now() + 1_000);
        assert.doesNotMatch(JSON.stringify(status), /access-|refresh-/);
      }
    });

    it('follows writes: a refresh moves the version, the expiry and the time written', async () => {
      const key = `${freshKey()}-`;
      const first = await store.replace(key, grant(1), MAX);
      const written = (await listed(key)).get(key)!;
      const next = await other.update(key, { ...grant(1, 1), expiresAt: first.expiresAt + 3_600_000 }, first.version);
      const status = (await listed(key)).get(key)!;
      includes(status, { version: next!.version, expiresAt: first.expiresAt + 3_600_000 });
      assert.ok(status.writtenAt >= written.writtenAt);
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
      assert.equal((await store.retired(`${tag}retired-only`)).length, 1);
      const lock = await store.lock(`${tag}locked`, 10_000);
      assert.deepEqual([...(await listed(tag)).keys()], [`${tag}kept`]);
      await lock!.release();
    });

    it('lists a key again after a sign-in over its tombstone', async () => {
      const key = `${freshKey()}-`;
      await store.replace(key, grant(1), MAX);
      await store.forget(key, [revoked(1)]);
      assert.equal((await listed(key)).size, 0);
      await other.replace(key, grant(2), MAX);
      assert.equal((await listed(key)).get(key)?.grantId, 'g2');
    });

    it('gives keys back exactly, whatever characters they hold', async () => {
      const tag = `${freshKey()}-`;
      const odd = [`${tag}{x}:lock/é`, `${tag}*?[a]\\`, `${tag}%7D%`];
      for (const key of odd) await store.replace(key, grant(1), MAX);
      assert.deepEqual([...(await listed(tag)).keys()].sort(), [...odd].sort());
    });

    it('lists hundreds of keys, each once, wherever they live (every master of a Cluster)', async () => {
      const tag = `${freshKey()}-`;
      const keys = Array.from({ length: 600 }, (_, i) => `${tag}${i}`);
      await Promise.all(keys.map((key) => store.replace(key, grant(1), MAX)));
      assert.deepEqual([...(await listed(tag)).keys()].sort(), [...keys].sort());
    });
  });

  if (!withClaims) return;
  describe('claim (set-if-absent with a ttl)', () => {
    const claim = (on: TokenStore, name: string, ttl: number) => on.claim!(name, ttl);

    it('goes to the first caller only, across processes, until it is released', async () => {
      const name = `claim-${freshKey()}`;
      const first = await claim(store, name, 5000);
      assert.notEqual(first.claim, null);
      assert.deepEqual(await claim(other, name, 5000), { claim: null, done: false });
      assert.deepEqual(await claim(store, name, 5000), { claim: null, done: false });
      await first.claim!.release();
      const next = await claim(other, name, 5000);
      assert.notEqual(next.claim, null, 'released: the next attempt claims it');
      await next.claim!.release();
    });

    it('stays claimed, as done, for the ttl complete gives, and is free again after it', async () => {
      const name = `claim-${freshKey()}`;
      const first = await claim(store, name, 50);
      await first.claim!.complete(300);
      await time.outlive(50);
      assert.deepEqual(
        await claim(other, name, 5000),
        {
          claim: null,
          done: true,
        },
        'past the pending ttl: the done ttl counts',
      );
      await first.claim!.release();
      assert.deepEqual(
        await claim(other, name, 5000),
        {
          claim: null,
          done: true,
        },
        'a completed claim is not released',
      );
      await time.outlive(300);
      const again = await claim(other, name, 5000);
      assert.notEqual(again.claim, null);
      await again.claim!.release();
    });

    it("expires while pending (a holder that died), and the late holder cannot settle its successor's claim", async () => {
      const name = `claim-${freshKey()}`;
      const stale = await claim(store, name, 80);
      await time.outlive(80);
      const successor = await claim(other, name, 5000);
      assert.notEqual(successor.claim, null);
      await stale.claim!.release();
      assert.deepEqual(
        await claim(store, name, 5000),
        {
          claim: null,
          done: false,
        },
        'the late release freed nothing',
      );
      await stale.claim!.complete(5000);
      assert.deepEqual(
        await claim(store, name, 5000),
        {
          claim: null,
          done: false,
        },
        'the late completion marked nothing',
      );
      await successor.claim!.complete(5000);
      assert.deepEqual(await claim(store, name, 5000), { claim: null, done: true });
    });

    it('gives one claim to 20 callers at once, on both handles', async () => {
      const name = `claim-${freshKey()}`;
      const all = await Promise.all(Array.from({ length: 20 }, (_, i) => claim(i % 2 ? store : other, name, 5000)));
      assert.equal(all.filter((taken) => taken.claim !== null).length, 1);
    });

    it('keeps names apart whatever characters they hold, and apart from the credentials', async () => {
      const key = freshKey();
      await store.replace(key, grant(1), MAX);
      const names = [key, `${key}:lock`, `{org:${key}}`, `${key} é/?*`, `${key}%20`];
      const taken = await Promise.all(names.map((name) => claim(store, name, 5000)));
      assert.equal(
        taken.every((each) => each.claim !== null),
        true,
      );
      includes(await store.get(key), grant(1));
      const lock = await other.lock(key, 5000);
      assert.notEqual(lock, null, "a claim named like a key is not the key's lock");
      await lock!.release();
      const listed: string[] = [];
      for await (const org of store.list()) listed.push(org.orgId);
      assert.deepEqual(
        listed.filter((orgId) => orgId.includes(key)),
        [key],
      );
    });
  });
}
