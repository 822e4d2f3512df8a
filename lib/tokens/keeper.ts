import { ReauthorizationRequiredError, StoreUnavailableError } from '../errors/index.js';
import type { OAuthClient } from '../oauth-client.js';
import type { Clock } from './clock.js';
import type { Credentials, NewCredentials } from './credentials.js';
import type { RevocationScope } from './manager.js';
import { guarded } from './store-failure.js';
import type { TokenStore } from './store.js';

/** What the keeper needs of its manager. */
export interface KeeperSettings {
  readonly store: TokenStore;
  readonly client: OAuthClient;
  readonly clock: Clock;
  readonly revocation: RevocationScope;
  readonly maxRetiredGrants: number;
  readonly retryDelay: number;
}

/** Store retries of a discarded grant's fate before it is revoked regardless. */
const DISCARD_RETRIES = 6;

/**
 * The grant invariant (README, "Every grant accounted for"), in one place: every grant the app
 * receives is kept (current or retired) or revoked, the app never revokes a grant it keeps, and
 * every removal names what it read.
 */
export class GrantKeeper {
  constructor(private readonly settings: KeeperSettings) {}

  /** A sign-in: the grant becomes current; the one it replaces is retired (per grant: revoked). */
  async connect(key: string, creds: NewCredentials): Promise<Credentials> {
    const { store, maxRetiredGrants, revocation } = this.settings;
    const stored = await guarded('write', () => store.replace(key, creds, maxRetiredGrants));
    if (revocation === 'grant') await this.#revokeRetired(key);
    return stored;
  }

  /** A grant the app will not keep; a store that is down is retried, then the grant is revoked. */
  async discard(key: string | undefined, creds: NewCredentials): Promise<void> {
    const { clock, client, retryDelay } = this.settings;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#letGo(key, creds);
        return;
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        // Nothing may stay live that no one holds: past the retries, revoke.
        if (attempt >= DISCARD_RETRIES) return client.revoke(creds.refreshToken);
        await clock.sleep(retryDelay * 2 ** attempt * (0.5 + Math.random()));
      }
    }
  }

  /**
   * Disconnect's core: revokes each grant held for `key` (the current one, with `newest` tokens
   * if this process holds newer ones than the store, and the retired ones), then forgets exactly
   * those it revoked. Returns the first revoke failure, if any; the grants it concerns stay kept.
   */
  async disconnect(
    key: string,
    newest: NewCredentials | undefined,
  ): Promise<{ revoked: string[]; failure: Error | undefined }> {
    const { store, client } = this.settings;
    const current = await guarded('read', () => store.get(key));
    const grants: NewCredentials[] = current ? [newest?.grantId === current.grantId ? newest : current] : [];
    grants.push(...(await guarded('read', () => store.retired(key))));
    const revoked: string[] = [];
    let failure: Error | undefined;
    for (const grant of grants) {
      await client.revoke(grant.refreshToken).then(
        () => revoked.push(grant.grantId),
        (err: unknown) => (failure ??= err as Error),
      );
    }
    await guarded('forget', () => store.forget(key, revoked));
    return { revoked, failure };
  }

  /**
   * Writes refreshed credentials with compare-and-set. When another write came first, theirs
   * win, and ours are not dropped: the same grant's newer tokens make ours moot; a different
   * grant's (a sign-in meanwhile) leaves ours to be retired or revoked.
   */
  async keep(key: string, fresh: NewCredentials, expectedVersion: number): Promise<Credentials> {
    const { store } = this.settings;
    const next = await guarded('write', () => store.update(key, fresh, expectedVersion));
    if (next) return next;
    const latest = await guarded('read', () => store.get(key));
    if (latest?.grantId === fresh.grantId) return latest;
    await this.#letGo(key, fresh);
    if (latest) return latest;
    throw new ReauthorizationRequiredError('its credentials were removed while they were being refreshed', { key });
  }

  /**
   * A grant the app holds but will not use: revoked when that cannot end a kept grant, else
   * retired; kept (retired) too when its revoke fails, so that Disconnect can try again.
   */
  async #letGo(key: string | undefined, creds: NewCredentials): Promise<void> {
    const { store, client, revocation, maxRetiredGrants } = this.settings;
    if (key !== undefined) {
      // A write that timed out may still have landed (the store queued it): a grant that became
      // current after all is kept, never revoked.
      const kept =
        revocation === 'organization'
          ? await guarded('write', () => store.retire(key, creds, maxRetiredGrants, true))
          : (await guarded('read', () => store.get(key)))?.grantId === creds.grantId;
      if (kept) {
        // It replaced a grant after all, and the sign-in that would have revoked that one failed.
        if (revocation === 'grant') await this.#revokeRetired(key);
        return;
      }
    }
    try {
      await client.revoke(creds.refreshToken);
    } catch (err) {
      if (key === undefined) throw err;
      await guarded('write', () => store.retire(key, creds, maxRetiredGrants, false));
    }
  }

  /** Per-grant revocation: the retired grants of `key` are revoked and forgotten; failures stay. */
  async #revokeRetired(key: string): Promise<void> {
    const { store, client } = this.settings;
    const revoked: string[] = [];
    for (const grant of await guarded('read', () => store.retired(key))) {
      await client.revoke(grant.refreshToken).then(
        () => revoked.push(grant.grantId),
        () => undefined,
      );
    }
    if (revoked.length > 0) await guarded('forget', () => store.forget(key, revoked));
  }
}
