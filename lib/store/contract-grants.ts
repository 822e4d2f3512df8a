import assert from 'node:assert/strict';
import type { NewCredentials } from '../tokens/credentials.js';
import type { TokenStore } from '../tokens/store.js';
import {
  MAX,
  freshKey,
  grant,
  ids,
  includes,
  revoked,
  within,
  type ContractFramework,
  type ContractScope,
  type ContractTime,
} from './contract-support.js';

/** Registers the contract's tests of reads, writes, retired grants and removals. */
export function grantTests({ describe, it, before }: ContractFramework, scope: ContractScope): void {
  let store!: TokenStore;
  let other!: TokenStore;
  let time!: ContractTime;
  before(async () => {
    ({ store, other, time } = scope);
  });
  describe('reads and writes', () => {
    it('returns null and no retired grants for a key never written', async () => {
      const key = freshKey();
      assert.equal(await store.get(key), null);
      assert.deepEqual(await store.retired(key), []);
    });

    it('replace writes unconditionally and bumps the version each time', async () => {
      const key = freshKey();
      const first = await store.replace(key, grant(1), MAX);
      assert.deepEqual(first, { ...grant(1), version: first.version });
      assert.deepEqual(await other.replace(key, grant(2), MAX), { ...grant(2), version: first.version + 1 });
      assert.deepEqual(await store.get(key), { ...grant(2), version: first.version + 1 });
    });

    it('keeps credentials without a scope', async () => {
      const key = freshKey();
      const bare: NewCredentials = { accessToken: 'a', refreshToken: 'r', expiresAt: 1, grantId: 'g' };
      const { version } = await store.replace(key, bare, MAX);
      assert.deepEqual(await other.get(key), { ...bare, version });
    });

    it('keeps only the fields it stores', async () => {
      const key = freshKey();
      const stale = { ...grant(1), version: 7, extra: 'not stored' } as NewCredentials;
      const { version } = await store.replace(key, stale, MAX);
      assert.deepEqual(await other.get(key), { ...grant(1), version });
    });

    it('keeps keys apart whatever characters they hold', async () => {
      const base = `odd ${freshKey()}`;
      await store.replace(`${base}{x}:lock/é`, grant(1), MAX);
      await store.replace(base, grant(2), MAX);
      assert.equal((await store.get(`${base}{x}:lock/é`))?.accessToken, 'access-1-0');
      assert.equal((await store.get(base))?.accessToken, 'access-2-0');
    });

    it('update is a compare-and-set on the version', async () => {
      const key = freshKey();
      const first = await store.replace(key, grant(1), MAX);
      assert.deepEqual(await other.update(key, grant(1, 1), first.version), {
        ...grant(1, 1),
        version: first.version + 1,
      });
      assert.equal(await store.update(key, grant(1, 2), first.version), null);
      assert.deepEqual(await store.get(key), { ...grant(1, 1), version: first.version + 1 });
    });

    it('update written again with the very tokens already current returns them (a retried write)', async () => {
      const key = freshKey();
      const first = await store.replace(key, grant(1), MAX);
      const next = await store.update(key, grant(1, 1), first.version);
      assert.deepEqual(await other.update(key, grant(1, 1), first.version), next);
      assert.equal(await other.update(key, grant(1, 2), first.version), null, 'other tokens still lose');
    });

    it('update does not create a key', async () => {
      const key = freshKey();
      assert.equal(await store.update(key, grant(1), 0), null);
      assert.equal(await store.get(key), null);
    });

    it("starts a key's versions at the clock, so they never repeat across its lifetimes", async () => {
      const before = time.now();
      const { version } = await store.replace(freshKey(), grant(1), MAX);
      within(version, before, time.now() + 1_000);
    });
  });

  describe('retired grants', () => {
    it('replace retires the grant it replaces, oldest first, and never the same grant', async () => {
      const key = freshKey();
      await store.replace(key, grant(1), MAX);
      const rotated = await store.update(key, grant(1, 1), (await store.get(key))!.version);
      // The same grant signed in again (a retried sign-in): the newer rotation stays.
      assert.deepEqual(await other.replace(key, grant(1), MAX), rotated);
      assert.deepEqual(await store.retired(key), [], 'the same grant signed in again');
      await other.replace(key, grant(2), MAX);
      await store.replace(key, grant(3), MAX);
      assert.deepEqual(await other.retired(key), [grant(1, 1), grant(2)]);
      includes(await store.get(key), grant(3));
    });

    it('keeps at most maxRetired, dropping the oldest', async () => {
      const key = freshKey();
      for (let n = 1; n <= 5; n++) await store.replace(key, grant(n), MAX);
      assert.deepEqual(ids(await other.retired(key)), ['g2', 'g3', 'g4']);
    });

    it('retire leaves the current grant alone, updates a retired one, appends a new one', async () => {
      const key = freshKey();
      await store.replace(key, grant(1), MAX);
      const current = await store.replace(key, grant(2), MAX);
      assert.equal(await other.retire(key, grant(2, 5), MAX, true), true);
      assert.deepEqual(await store.get(key), current);
      assert.equal(await other.retire(key, grant(1, 1), MAX, true), true);
      assert.equal(await other.retire(key, grant(9), MAX, true), true);
      assert.deepEqual(await store.retired(key), [grant(1, 1), grant(9)]);
      assert.deepEqual(await store.get(key), current, 'the current grant and its version are untouched');
    });

    it('retire with onlyIfKept writes nothing where no grant is kept', async () => {
      const key = freshKey();
      assert.equal(await store.retire(key, grant(1), MAX, true), false);
      assert.deepEqual(await store.retired(key), []);
      assert.equal(await store.retire(key, grant(1), MAX, false), true);
      assert.deepEqual(await other.retired(key), [grant(1)]);
      assert.equal(await other.retire(key, grant(2), MAX, true), true, 'a retired grant is a kept grant');
    });

    it('forget removes exactly the grants named, and a forgotten current grant leaves a final tombstone', async () => {
      const key = freshKey();
      await store.replace(key, grant(1), MAX);
      await store.replace(key, grant(2), MAX);
      const { version } = await store.replace(key, grant(3), MAX);
      await other.forget(key, [revoked(1), revoked(7)]);
      assert.deepEqual(ids(await store.retired(key)), ['g2']);
      includes(await store.get(key), grant(3));
      await other.forget(key, [revoked(3)]);
      assert.equal(await store.get(key), null);
      assert.deepEqual(ids(await store.retired(key)), ['g2'], 'g2 was not named');
      assert.equal(await other.update(key, grant(3, 1), version), null, 'a late refresh of g3');
      assert.equal(await store.get(key), null);
    });

    it('forget does not touch a current grant that replaced the one it read', async () => {
      const key = freshKey();
      await store.replace(key, grant(1), MAX);
      const newer = await other.replace(key, grant(2), MAX); // a sign-in that raced a Disconnect of g1
      await store.forget(key, [revoked(1)]);
      assert.deepEqual(await other.get(key), newer);
      assert.deepEqual(await store.retired(key), []);
    });

    it('forget leaves newer tokens of a grant it names: a late writer landed them after the read', async () => {
      const key = freshKey();
      await store.replace(key, grant(1), MAX);
      const first = await store.replace(key, grant(2), MAX);
      // A Disconnect reads g2 at turn 0 and g1; a late writer lands g2's next tokens meanwhile.
      await other.update(key, grant(2, 1), first.version);
      await other.retire(key, grant(1, 1), MAX, true); // and a lost refresh of g1 is retired
      await store.forget(key, [revoked(1), revoked(2)]);
      includes(await other.get(key), grant(2, 1));
      assert.deepEqual(await other.retired(key), [grant(1, 1)]);
      await store.forget(key, [revoked(1, 1), revoked(2, 1)]);
      assert.equal(await other.get(key), null);
      assert.deepEqual(await other.retired(key), []);
    });

    it('forget takes several tokens of one grant: each pair counts, the current and the retired alike', async () => {
      const key = freshKey();
      await store.replace(key, grant(1), MAX);
      await store.replace(key, grant(2), MAX);
      // A Disconnect names what the store holds and newer tokens a process held unsaved, which
      // never landed: the stored tokens are forgotten whichever pair of their grant comes last.
      await other.forget(key, [revoked(2), revoked(2, 1), revoked(1), revoked(1, 1)]);
      assert.equal(await store.get(key), null);
      assert.deepEqual(await store.retired(key), []);
    });

    it("a retired grant survives the current grant's removal", async () => {
      const key = freshKey();
      await store.replace(key, grant(1), MAX);
      const { version } = await store.replace(key, grant(2), MAX);
      assert.equal(await other.remove(key, version), true);
      await other.forget(key, [revoked(2)]);
      assert.deepEqual(await store.retired(key), [grant(1)]);
    });
  });

  describe('remove (a dead grant)', () => {
    it('removes only the version it names', async () => {
      const key = freshKey();
      await store.replace(key, grant(1), MAX);
      const second = await store.replace(key, grant(2), MAX);
      assert.equal(await other.remove(key, second.version - 1), false);
      assert.deepEqual(await store.get(key), second);
      assert.equal(await other.remove(key, second.version), true);
      assert.equal(await store.get(key), null);
    });

    it('does nothing to a key never written', async () => {
      assert.equal(await store.remove(freshKey(), 1), false);
    });

    it('is followed by a replace that continues past the tombstone version', async () => {
      const key = freshKey();
      const first = await store.replace(key, grant(1), MAX);
      await store.remove(key, first.version);
      assert.deepEqual(await other.replace(key, grant(2), MAX), { ...grant(2), version: first.version + 2 });
    });

    it('lets a late update expecting that version land, once', async () => {
      const key = freshKey();
      const { version } = await store.replace(key, grant(1), MAX);
      assert.equal(await store.remove(key, version), true);
      assert.equal(await other.update(key, grant(1, 1), version + 1), null, "the tombstone's own version");
      const revived = await other.update(key, grant(1, 1), version);
      assert.deepEqual(revived, { ...grant(1, 1), version: version + 2 });
      assert.deepEqual(await store.get(key), revived);
      assert.equal(await store.update(key, grant(1, 2), version), null, 'the revival is spent');
    });

    it('is made final by a forget (a sign-out): no late update revives the key', async () => {
      const key = freshKey();
      const { version } = await store.replace(key, grant(1), MAX);
      await store.remove(key, version);
      await store.forget(key, []);
      assert.equal(await other.update(key, grant(1, 1), version), null);
      assert.equal(await store.get(key), null);
    });

    it('does nothing to a tombstone', async () => {
      const key = freshKey();
      const { version } = await store.replace(key, grant(1), MAX);
      await store.forget(key, [revoked(1)]);
      assert.equal(await store.remove(key, version + 1), false);
    });
  });
}
