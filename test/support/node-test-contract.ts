// The TokenStore contract under node:test (run by store.contract.node-test.test.ts in a child
// `node --test`): what a team with no mocha runs against its own store.
import { after, before, describe, it } from 'node:test';
import { MemoryTokenStore } from 'passport-samsara';
import { runTokenStoreContract } from 'passport-samsara/store';

runTokenStoreContract(
  'MemoryTokenStore under node:test',
  async () => {
    const store = new MemoryTokenStore();
    return { stores: [store, store] };
  },
  { describe, it, before, after },
);
