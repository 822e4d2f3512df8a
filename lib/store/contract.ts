import { grantTests } from './contract-grants.js';
import { listingTests } from './contract-listing.js';
import { lockTests } from './contract-lock.js';
import { webhookTests } from './contract-webhooks.js';
import { realTime, type ContractBackend, type ContractFramework, type ContractScope } from './contract-support.js';

/**
 * Registers the whole `TokenStore` contract (the tests this package's own stores pass) as one
 * `describe` block named `TokenStore contract: <name>`, against the backend `start` returns. Run
 * it from a test file of mocha, `node:test`, Jest or Vitest; it checks its results with
 * `node:assert`. `claim`, `webhook` and `saveWebhook` are optional in `TokenStore`, and so is
 * `LockHandle.extend`: for a store without them, pass `{ claim: false }`, `{ webhooks: false }` or
 * `{ extend: false }`. `getLockingIfDue` is optional too, and checked only with
 * `{ lockingRead: true }`.
 *
 * Keys are made up per run (`org-<random>-<n>`), so the backend may be a shared database, yet
 * `list` is checked too: give each run a schema, prefix or table of its own.
 *
 * @example
 * ```ts
 * import { after, before, describe, it } from 'node:test';
 * import { runTokenStoreContract } from 'passport-samsara/store';
 *
 * runTokenStoreContract(
 *   'MySqlTokenStore',
 *   async () => {
 *     const [a, b] = [new MySqlTokenStore(pool()), new MySqlTokenStore(pool())];
 *     return { stores: [a, b], teardown: () => dropTables() };
 *   },
 *   { describe, it, before, after },
 * );
 * ```
 */
export function runTokenStoreContract(
  name: string,
  start: () => Promise<ContractBackend>,
  framework: ContractFramework,
  options: { claim?: boolean; webhooks?: boolean; extend?: boolean; lockingRead?: boolean } = {},
): void {
  framework.describe(`TokenStore contract: ${name}`, () => {
    let backend: ContractBackend | undefined;
    const scope = {} as ContractScope;
    framework.before(async () => {
      backend = await start();
      [scope.store, scope.other] = backend.stores;
      scope.time = backend.time ?? realTime;
    });
    framework.after(async () => {
      await backend?.teardown?.();
    });
    grantTests(framework, scope);
    listingTests(framework, scope, options.claim ?? true);
    lockTests(framework, scope, options.extend ?? true, options.lockingRead ?? false);
    if (options.webhooks ?? true) webhookTests(framework, scope);
  });
}
