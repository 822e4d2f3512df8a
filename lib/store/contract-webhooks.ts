import assert from 'node:assert/strict';
import type { TokenStore } from '../tokens/store.js';
import { MAX, freshKey, grant, revoked, type ContractFramework, type ContractScope } from './contract-support.js';

/** Registers the contract's tests of the webhook record (`webhook` and `saveWebhook`). */
export function webhookTests({ describe, it, before }: ContractFramework, scope: ContractScope): void {
  let store!: TokenStore;
  let other!: TokenStore;
  before(async () => {
    ({ store, other } = scope);
  });
  describe('webhook record (saveWebhook: compare-and-set on its id)', () => {
    const hook = (id: string) => ({ id, url: 'https://app.example/hooks', secretKey: `c2VjcmV0LQ==${id}` });

    it('saves only over the id expected, deletes the same way, and is apart from the credentials', async () => {
      const key = freshKey();
      await store.replace(key, grant(1), MAX);
      assert.equal(await store.webhook!(key), null);
      assert.equal(await store.saveWebhook!(key, hook('w1'), 'w0'), false, 'none stored: only null matches');
      assert.equal(await store.saveWebhook!(key, hook('w1'), null), true);
      assert.deepEqual(await other.webhook!(key), hook('w1'), 'the other process sees it');
      assert.equal(await other.saveWebhook!(key, hook('w2'), null), false, 'lost the race');
      assert.equal(await other.saveWebhook!(key, hook('w2'), 'w1'), true);
      await store.forget(key, [revoked(1)]);
      assert.equal(await store.get(key), null, 'the grant forgotten');
      assert.deepEqual(await store.webhook!(key), hook('w2'), 'the record left as it is');
      assert.equal(await store.saveWebhook!(key, null, 'w1'), false, 'a delete of what it did not read');
      assert.equal(await store.saveWebhook!(key, null, 'w2'), true);
      assert.equal(await other.webhook!(key), null);
    });
  });
}
