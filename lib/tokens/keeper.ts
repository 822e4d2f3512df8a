import { StoreUnavailableError } from '../errors/index.js';
import { codeOf, publish, type RevokeEvent } from '../events.js';
import type { Credentials, NewCredentials } from './credentials.js';
import type { Lifecycle } from './lifecycle.js';
import { reauthorization } from './reauthorize.js';
import { guarded } from './store-failure.js';
import type { ManagerSettings } from './settings.js';
import type { RevokedGrant } from './store.js';

/** What the keeper reads of its manager's settings. */
export type KeeperSettings = Pick<
  ManagerSettings,
  'store' | 'clientFor' | 'clock' | 'revocation' | 'maxRetiredGrants' | 'retryDelay' | 'webhooks'
>;

/** Store retries of a discarded grant's fate before it is revoked regardless. */
const DISCARD_RETRIES = 6;

/** Store retries of a sign-in's write (failed, or not durable yet) before the sign-in fails. */
const SIGN_IN_RETRIES = 3;

/**
 * Rounds of a Disconnect: each revokes what the last one found still held. A second round is
 * needed only when a late writer landed newer tokens of a revoked grant between the read and the
 * removal; more than a few would take writers pausing that long each time.
 */
const DISCONNECT_ROUNDS = 4;

/**
 * The grant invariant (README, "Every grant accounted for"), in one place: every grant the app
 * receives is kept (current or retired) or revoked, the app never revokes a grant it keeps, and
 * every removal names what it read.
 */
export class GrantKeeper {
  constructor(
    private readonly settings: KeeperSettings,
    /** The host's hooks: told of connects here, of Disconnects and dead grants by the manager and the refresher. */
    readonly lifecycle: Lifecycle,
  ) {}

  /**
   * A sign-in: the grant becomes current; the one it replaces is retired (per grant: revoked). A
   * grant already kept (a verify that connected it before the strategy did) is not written again:
   * its stored tokens may have been refreshed since, and writing it back would retire a newer grant.
   * `written` is called once the grant is stored, before the webhooks and `onConnect`, whose calls
   * for the organization's token must see it.
   */
  async connect(key: string, creds: NewCredentials, written: () => void): Promise<Credentials> {
    const { store, revocation } = this.settings;
    const before = await guarded('read', () => store.get(key), key);
    if (before?.grantId === creds.grantId) return before;
    // Connected, then replaced by a newer sign-in meanwhile: that one stays current.
    if (before && (await guarded('read', () => store.retired(key), key)).some((held) => held.grantId === creds.grantId))
      return before;
    const stored = await this.#replaceDurably(key, creds);
    written();
    if (revocation === 'grant') await this.#revokeRetired(key);
    const region = stored.region ?? this.settings.clientFor(stored).region;
    const webhook = await this.settings.webhooks?.connected(key);
    const reason = before ? 'reconnected' : 'connected';
    await this.lifecycle.tell('onConnect', { orgId: key, reason, region, ...(webhook && { webhook }) });
    return stored;
  }

  /**
   * A sign-in's write, retried while the store fails it or does not make it durable: written
   * again, it lands on whichever primary serves the key, and never over a newer rotation of the
   * same grant (the store's replace is replace-unless-newer).
   */
  async #replaceDurably(key: string, creds: NewCredentials): Promise<Credentials> {
    const { store, clock, maxRetiredGrants, retryDelay } = this.settings;
    for (let attempt = 0; ; attempt++) {
      try {
        return await guarded('write', () => store.replace(key, creds, maxRetiredGrants), key);
      } catch (err) {
        if (!(err instanceof StoreUnavailableError) || attempt >= SIGN_IN_RETRIES) throw err;
        await clock.sleep(retryDelay * 2 ** attempt * (0.5 + Math.random()));
      }
    }
  }

  /** A grant the app will not keep; a store that is down is retried, then the grant is revoked. */
  async discard(key: string | undefined, creds: NewCredentials): Promise<void> {
    const { clock, retryDelay } = this.settings;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#letGo(key, creds);
        return;
      } catch (err) {
        if (!(err instanceof StoreUnavailableError)) throw err;
        // Nothing may stay live that no one holds: past the retries, revoke.
        if (attempt >= DISCARD_RETRIES) return this.#revoke(key, creds, 'discard');
        await clock.sleep(retryDelay * 2 ** attempt * (0.5 + Math.random()));
      }
    }
  }

  /**
   * Disconnect's core: revokes each grant held for `key` (the current one, the retired ones, and
   * `newest`: tokens this process refreshed but the store has not taken), then forgets exactly the
   * tokens it revoked. A late writer may land newer tokens of a revoked grant meanwhile; the store
   * keeps those (a removal only removes what it read), so they are revoked in another round. A
   * grant that appears meanwhile under another id (a sign-in) is not this Disconnect's. Returns the
   * grant ids it revoked, whether it revoked given tokens (by their refresh token), and the first
   * revoke failure, if any; the grants it concerns stay kept.
   */
  async disconnect(
    key: string,
    newest: NewCredentials | undefined,
  ): Promise<{ revoked: string[]; isRevoked: (grant: NewCredentials) => boolean; failure: Error | undefined }> {
    const { store } = this.settings;
    const revoked: RevokedGrant[] = [];
    const isRevoked = (grant: NewCredentials): boolean => revoked.some((r) => r.refreshToken === grant.refreshToken);
    let failure: Error | undefined;
    for (let round = 0; round < DISCONNECT_ROUNDS && !failure; round++) {
      const current = await guarded('read', () => store.get(key), key);
      const held = [...(current ? [current] : []), ...(await guarded('read', () => store.retired(key), key))];
      if (round === 0 && newest && !held.some((grant) => grant.refreshToken === newest.refreshToken)) held.push(newest);
      const due = held.filter(
        (grant) => !isRevoked(grant) && (round === 0 || revoked.some((r) => r.grantId === grant.grantId)),
      );
      if (due.length === 0) {
        // Nothing held: the forget still makes a dead grant's tombstone final, so that a sign-out
        // is not undone by a late writer.
        if (round === 0) await guarded('forget', () => store.forget(key, []), key);
        break;
      }
      const now: RevokedGrant[] = [];
      for (const grant of due) {
        await this.#revoke(key, grant, 'disconnect').then(
          () => now.push({ grantId: grant.grantId, refreshToken: grant.refreshToken }),
          (err: unknown) => (failure ??= err as Error),
        );
      }
      revoked.push(...now);
      await guarded('forget', () => store.forget(key, now), key);
    }
    return { revoked: [...new Set(revoked.map((grant) => grant.grantId))], isRevoked, failure };
  }

  /**
   * Writes refreshed credentials with compare-and-set. When another write came first, theirs
   * win, and ours are not dropped: the same grant's newer tokens make ours moot; a different
   * grant's (a sign-in meanwhile) leaves ours to be retired or revoked. When the key is gone
   * because the store lost its memory meanwhile, ours are the grant's only tokens: they are
   * written back as a sign-in would write them, never as an update of data that no longer exists.
   */
  async keep(key: string, fresh: NewCredentials, expectedVersion: number): Promise<Credentials> {
    const { store, maxRetiredGrants } = this.settings;
    const next = await guarded('write', () => store.update(key, fresh, expectedVersion), key);
    if (next) return next;
    const latest = await guarded('read', () => store.get(key), key);
    if (latest?.grantId === fresh.grantId) return latest;
    if (!latest && (await guarded('read', async () => (await store.lost?.(key)) ?? false, key))) {
      return guarded('write', () => store.replace(key, fresh, maxRetiredGrants), key);
    }
    await this.#letGo(key, fresh);
    if (latest) return latest;
    throw reauthorization(key, 'removed', 'its credentials were removed while they were being refreshed');
  }

  /**
   * A grant the app holds but will not use: revoked when that cannot end a kept grant, else
   * retired; kept (retired) too when its revoke fails, so that Disconnect can try again.
   */
  async #letGo(key: string | undefined, creds: NewCredentials): Promise<void> {
    const { store, revocation, maxRetiredGrants } = this.settings;
    if (key !== undefined) {
      // A write that timed out may still have landed (the store queued it): a grant that became
      // current after all is kept, never revoked.
      const kept =
        revocation === 'organization'
          ? await guarded('write', () => store.retire(key, creds, maxRetiredGrants, true), key)
          : (await guarded('read', () => store.get(key), key))?.grantId === creds.grantId;
      if (kept) {
        // It replaced a grant after all, and the sign-in that would have revoked that one failed.
        if (revocation === 'grant') await this.#revokeRetired(key);
        return;
      }
    }
    try {
      await this.#revoke(key, creds, 'discard');
    } catch (err) {
      if (key === undefined) throw err;
      await guarded('write', () => store.retire(key, creds, maxRetiredGrants, false), key);
    }
  }

  /** Per-grant revocation: the retired grants of `key` are revoked and forgotten; failures stay. */
  async #revokeRetired(key: string): Promise<void> {
    const { store } = this.settings;
    const revoked: RevokedGrant[] = [];
    for (const grant of await guarded('read', () => store.retired(key), key)) {
      await this.#revoke(key, grant, 'replaced').then(
        () => revoked.push({ grantId: grant.grantId, refreshToken: grant.refreshToken }),
        () => undefined,
      );
    }
    if (revoked.length > 0) await guarded('forget', () => store.forget(key, revoked), key);
  }

  /** Revokes one grant at the app that issued it, and says so on the revoke channel. */
  async #revoke(key: string | undefined, grant: NewCredentials, reason: RevokeEvent['reason']): Promise<void> {
    const started = performance.now();
    const event = (outcome: RevokeEvent['outcome'], code?: string): void =>
      publish('revoke', () => ({
        orgId: key ?? '',
        outcome,
        reason,
        grantId: grant.grantId,
        durationMs: performance.now() - started,
        ...(grant.region !== undefined && { region: grant.region }),
        ...(code !== undefined && { code }),
      }));
    try {
      await this.settings.clientFor(grant).revoke(grant.refreshToken);
    } catch (err) {
      event('failed', codeOf(err));
      throw err;
    }
    event('revoked');
  }
}
