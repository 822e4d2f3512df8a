import assert from 'node:assert/strict';
import type { DueRead, TokenStore } from '../tokens/store.js';
import {
  MAX,
  freshKey,
  grant,
  within,
  type ContractFramework,
  type ContractScope,
  type ContractTime,
} from './contract-support.js';

/**
 * Registers the contract's tests of the lock (`LockHandle.extend` too, unless `extend` is false;
 * `getLockingIfDue` when `lockingRead` is true) and waitForChange.
 */
export function lockTests(
  { describe, it, before }: ContractFramework,
  scope: ContractScope,
  extend: boolean,
  lockingRead: boolean,
): void {
  let store!: TokenStore;
  let other!: TokenStore;
  let time!: ContractTime;
  before(async () => {
    ({ store, other, time } = scope);
  });
  /** Asserts that a wait took `ms`: exactly on a fake clock, within the margins on a real one. */
  const tookAbout = (elapsed: number, ms: number): void => within(elapsed, ms - time.early, ms + time.late);

  describe('lock', () => {
    it('is exclusive until released', async () => {
      const key = freshKey();
      const held = await store.lock(key, 5000);
      assert.notEqual(held, null);
      assert.equal(await other.lock(key, 5000), null);
      assert.equal(await store.lock(key, 5000), null);
      await held!.release();
      const next = await other.lock(key, 5000);
      assert.notEqual(next, null);
      await next!.release();
    });

    it('comes with the current credentials as they stood when it was taken: none, written, removed', async () => {
      const key = freshKey();
      const none = await store.lock(key, 5000);
      assert.equal(none?.current, null);
      await none!.release();
      const written = await store.replace(key, grant(1), MAX);
      const held = await other.lock(key, 5000);
      assert.deepEqual(held?.current, await store.get(key));
      assert.equal(held?.current?.version, written.version);
      await held!.release();
      await store.remove(key, written.version);
      const removed = await store.lock(key, 5000);
      assert.equal(removed?.current, null);
      await removed!.release();
    });

    if (extend)
      it('extend holds it longer, takes it again once it vanished, and fails while someone else holds it', async () => {
        const key = freshKey();
        const held = (await store.lock(key, 50))!;
        assert.equal(await held.extend?.(5000), true);
        await time.outlive(50);
        assert.equal(await other.lock(key, 5000), null, 'extended past its first ttl');
        await held.release();
        assert.equal(await held.extend?.(5000), true, 'taken again after it vanished');
        assert.equal(await other.lock(key, 5000), null);
        await held.release();
        const successor = (await other.lock(key, 5000))!;
        assert.equal(await held.extend?.(5000), false, "never over someone else's");
        await successor.release();
      });

    it("release is compare-and-delete: an expired holder cannot free its successor's lock", async () => {
      const key = freshKey();
      const stale = await store.lock(key, 50);
      await time.outlive(50);
      const successor = await other.lock(key, 5000);
      assert.notEqual(successor, null);
      await stale!.release();
      assert.equal(await store.lock(key, 5000), null);
      await successor!.release();
    });

    it('expires after its ttl', async () => {
      const key = freshKey();
      assert.notEqual(await store.lock(key, 80), null);
      assert.equal(await other.lock(key, 80), null);
      if (time.late === 0) {
        // On the fake clock, to the millisecond.
        await time.pass(79);
        assert.equal(await other.lock(key, 80), null);
        await time.pass(1);
      } else {
        await time.outlive(80);
      }
      assert.notEqual(await other.lock(key, 5000), null);
    });
  });

  if (lockingRead)
    describe('getLockingIfDue', () => {
      /** The store's locking read: these tests are registered only for a store that has one. */
      const read = (on: TokenStore, key: string, dueBy: number, ttlMs = 5000): Promise<DueRead> => {
        assert.ok(
          typeof on.getLockingIfDue === 'function',
          'the store has no getLockingIfDue (run the contract without lockingRead)',
        );
        return on.getLockingIfDue(key, dueBy, ttlMs);
      };

      it('reads without locking before the grant is due, and takes the lock with the read once it is', async () => {
        const key = freshKey();
        const written = await store.replace(key, grant(1), MAX);
        const early = await read(store, key, written.expiresAt - 1);
        assert.deepEqual(early, { credentials: await store.get(key) });
        const free = await other.lock(key, 5000);
        assert.notEqual(free, null, 'no lock taken by a read before the grant is due');
        await free!.release();

        const due = await read(store, key, written.expiresAt);
        assert.deepEqual(due.credentials, await store.get(key));
        assert.deepEqual(due.lock?.current, due.credentials, "the handle's current is what was read");
        assert.equal(await other.lock(key, 5000), null, 'held for the reader');
        const meanwhile = await read(other, key, written.expiresAt);
        assert.equal(meanwhile.lock, null, 'due, and held by someone else');
        assert.deepEqual(meanwhile.credentials, due.credentials);
        await due.lock!.release();
        const next = await other.lock(key, 5000);
        assert.notEqual(next, null, 'released');
        await next!.release();
      });

      it('takes no lock where there is nothing to refresh: no credentials, or removed ones', async () => {
        const key = freshKey();
        assert.deepEqual(await read(store, key, Number.MAX_SAFE_INTEGER), { credentials: null });
        const written = await store.replace(key, grant(1), MAX);
        assert.equal(await store.remove(key, written.version), true);
        assert.deepEqual(await read(store, key, Number.MAX_SAFE_INTEGER), { credentials: null });
        const free = await other.lock(key, 5000);
        assert.notEqual(free, null);
        await free!.release();
      });

      it("the read's lock expires after its ttl", async () => {
        const key = freshKey();
        const written = await store.replace(key, grant(1), MAX);
        const due = await read(store, key, written.expiresAt, 80);
        assert.notEqual(due.lock ?? null, null);
        assert.equal(await other.lock(key, 80), null);
        await time.outlive(80);
        const next = await other.lock(key, 5000);
        assert.notEqual(next, null, 'expired');
        await next!.release();
      });
    });

  describe('waitForChange', () => {
    it('wakes on an update by another process', async () => {
      const key = freshKey();
      const { version } = await store.replace(key, grant(1), MAX);
      const lock = await other.lock(key, 10_000);
      const waiting = time.watch(store.waitForChange(key, version, 5000));
      await time.pass(100);
      await other.update(key, grant(1, 1), version);
      tookAbout(await waiting.elapsed(), 100);
      await lock!.release();
    });

    it('wakes when the holder releases the lock', async () => {
      const key = freshKey();
      const { version } = await store.replace(key, grant(1), MAX);
      const lock = await other.lock(key, 10_000);
      const waiting = time.watch(store.waitForChange(key, version, 5000));
      await time.pass(100);
      await lock!.release();
      tookAbout(await waiting.elapsed(), 100);
    });

    it('wakes when the lock expires (a holder that died)', async () => {
      const key = freshKey();
      const { version } = await store.replace(key, grant(1), MAX);
      await other.lock(key, 300);
      const waiting = time.watch(store.waitForChange(key, version, 5000));
      await time.pass(300);
      tookAbout(await waiting.elapsed(), 300);
    });

    it('returns at the deadline when nothing happens', async () => {
      const key = freshKey();
      const { version } = await store.replace(key, grant(1), MAX);
      const lock = await other.lock(key, 10_000);
      const waiting = time.watch(store.waitForChange(key, version, 300));
      await time.pass(300);
      tookAbout(await waiting.elapsed(), 300);
      await lock!.release();
    });

    it('returns at once when the version already moved', async () => {
      const key = freshKey();
      await store.replace(key, grant(1), MAX);
      const { version } = await other.replace(key, grant(2), MAX);
      const lock = await other.lock(key, 10_000);
      tookAbout(await time.watch(store.waitForChange(key, version - 1, 5000)).elapsed(), 0);
      await lock!.release();
    });

    it('returns at once when no one holds the lock', async () => {
      const key = freshKey();
      const { version } = await store.replace(key, grant(1), MAX);
      tookAbout(await time.watch(store.waitForChange(key, version, 5000)).elapsed(), 0);
    });
  });
}
