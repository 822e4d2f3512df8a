import type { SamsaraRegion } from '../endpoints.js';
import type { Credentials, NewCredentials } from './credentials.js';

/**
 * A held lock. `release()` deletes it only if it is still this holder's (compare-and-delete), so a
 * holder that outlived its ttl cannot free someone else's lock.
 *
 * @example
 * ```ts
 * const lock = await store.lock('1001', 20_000);
 * if (lock) {
 *   try {
 *     await refreshUnderLock();
 *   } finally {
 *     await lock.release();
 *   }
 * }
 * ```
 */
export interface LockHandle {
  release(): Promise<void>;
  /**
   * Optional: holds the lock for `ttlMs` from now, taking it again if it vanished (a failover to a
   * replica that never had it); false when someone else holds it. What a holder with unsaved
   * tokens (refreshed, not yet durable) keeps the lock with while it writes them again.
   */
  extend?(ttlMs: number): Promise<boolean>;
  /**
   * Optional: the key's current credentials (null: none) as they stood when the lock was taken,
   * read in the same atomic step. A store that gives them saves the holder its read under the lock.
   */
  readonly current?: Credentials | null;
}

/**
 * What {@link TokenStore.getLockingIfDue} read, and the lock it took.
 *
 * @example
 * ```ts
 * const { credentials, lock } = await store.getLockingIfDue('1001', Date.now() + 60_000, 20_000);
 * if (lock) {
 *   // Due, and this caller holds the refresh lock: refresh, write, then lock.release().
 * } else if (lock === null) {
 *   // Due, and another process is refreshing: wait for its write (waitForChange).
 * }
 * ```
 */
export interface DueRead {
  /** As `get` answers: the current credentials, or null when there are none. */
  credentials: Credentials | null;
  /**
   * Undefined: the credentials are not due (or the store could not tell), and no lock was asked
   * for. Null: they are due and someone else holds the key's refresh lock. Otherwise the lock,
   * taken for the caller as `lock` takes it, its `current` the credentials read.
   */
  lock?: LockHandle | null;
}

/**
 * A connected organization as a store lists it: what can be said of its current grant without a
 * token. A key with no current grant (never written, signed out, found dead) is not listed.
 *
 * @example
 * ```ts
 * for await (const org of tokens.organizations()) {
 *   console.log(org.orgId, org.region, new Date(org.expiresAt), new Date(org.writtenAt));
 * }
 * ```
 */
export interface OrganizationStatus {
  /** The token store key: the organization id, unless a verify of your own keyed it otherwise. */
  orgId: string;
  /** The current grant's id (a hash: it names the grant, it reveals no token). */
  grantId: string;
  /** When the current access token expires, in ms since the epoch. */
  expiresAt: number;
  /** The store's version of the credentials (grows on every write). */
  version: number;
  /** When the credentials were last written (a sign-in or a refresh), in ms since the epoch; 0 if unknown. */
  writtenAt: number;
  /** The region whose OAuth app issued the grant, when the store knows it. */
  region?: SamsaraRegion;
  /** The client id of that OAuth app, when the store knows it. */
  clientID?: string;
}

/**
 * A store's change notifications, as {@link TokenStore.watch} returns them.
 *
 * @example
 * ```ts
 * const watch = store.watch?.((key) => (key === undefined ? cache.clear() : cache.delete(key)));
 * if (watch?.live) serveFromCache();
 * watch?.close();
 * ```
 */
export interface StoreWatch {
  /**
   * True while every change is being told: the subscription is confirmed and its connection is
   * up. False before that, after a lost connection until it is subscribed again, and after `close()`.
   */
  readonly live: boolean;
  /** Stops the notifications. */
  close(): void;
}

/**
 * A claim {@link TokenStore.claim} gave: the work it guards is this holder's until it settles it.
 * Both steps are conditional: they do nothing once the claim is no longer this holder's (it
 * outlived its ttl, and someone else may have claimed the name since).
 *
 * @example
 * ```ts
 * const taken = await store.claim(`webhook:${event.eventId}`, 60_000);
 * if (taken.claim) {
 *   try {
 *     await handle(event);
 *     await taken.claim.complete(24 * 3600_000);
 *   } catch (err) {
 *     await taken.claim.release();
 *     throw err;
 *   }
 * }
 * ```
 */
export interface Claim {
  /** The work is done: the name stays claimed, as done, for `ttlMs` from now. */
  complete(ttlMs: number): Promise<void>;
  /** The work failed: the name is free again, for the next attempt to claim. */
  release(): Promise<void>;
}

/**
 * What {@link TokenStore.claim} answers: the claim, or (someone else holds the name) whether its
 * holder has completed the work.
 *
 * @example
 * ```ts
 * const taken: ClaimOutcome = await store.claim(name, 60_000);
 * if (!taken.claim) return taken.done ? 'already done' : 'in progress elsewhere';
 * ```
 */
export type ClaimOutcome = { claim: Claim; done?: undefined } | { claim: null; done: boolean };

/**
 * A grant a removal names: its id and the refresh token that was revoked.
 *
 * @example
 * ```ts
 * await store.forget('1001', [{ grantId: creds.grantId, refreshToken: creds.refreshToken }]);
 * ```
 */
export type RevokedGrant = Pick<NewCredentials, 'grantId' | 'refreshToken'>;

/**
 * What a store says of itself, as {@link TokenStore.health} answers: `ok`; `unavailable` (it does
 * not answer); or `lost-data`, for a while after it noticed that it lost its memory (a Redis
 * restarted without persistence, a `FLUSHALL`, a failover to an empty replica), which leaves every
 * organization it held to sign in again. Never a token or a secret.
 *
 * @example
 * ```ts
 * const health = await store.health?.();
 * if (health && health.status !== 'ok') log.error({ status: health.status, reason: health.reason });
 * ```
 */
export interface StoreHealth {
  status: 'ok' | 'unavailable' | 'lost-data';
  /** Why, in a sentence for an operator (empty when `ok`). */
  reason: string;
  /** When the store last noticed that it lost its data, in ms since the epoch; absent if never. */
  lostAt?: number;
}

/**
 * An organization's webhook as the app registered it at Samsara (`POST /webhooks`), kept beside
 * its grant by {@link TokenStore.saveWebhook}: what the webhooks receiver verifies the
 * organization's deliveries with. A store seals it as it seals credentials: `secretKey` is a secret.
 *
 * @example
 * ```ts
 * const webhook: StoredWebhook | null = (await store.webhook?.('1001')) ?? null;
 * if (webhook) verifySamsaraWebhook({ body, headers, secret: webhook.secretKey });
 * ```
 */
export interface StoredWebhook {
  /** Samsara's id of the webhook. */
  id: string;
  /** The URL it delivers to, as registered. */
  url: string;
  /** Base64, as Samsara gave it: what its deliveries are signed with. */
  secretKey: string;
}

/**
 * Where credentials live, keyed by organization id. Implementations: {@link MemoryTokenStore}
 * (one process) and `RedisTokenStore` (a fleet). A store may throw `StoreUnavailableError`.
 *
 * Each key holds at most one current grant (what `get` returns and refreshes rotate) and a
 * bounded list of retired ones: grants the app received and still holds, but no longer uses (a
 * grant a later sign-in replaced, a refresh that lost to a newer grant). Every removal names what
 * it removes, a version or grant ids, so it never removes what it did not read.
 *
 * @example
 * ```ts
 * const creds = await store.get('1001');
 * const next = await store.update('1001', refreshed, creds.version); // null: someone else wrote first
 * ```
 */
export interface TokenStore {
  /** The current credentials, or null when there are none (never stored, or removed). */
  get(key: string): Promise<Credentials | null>;
  /** The retired grants, oldest first. */
  retired(key: string): Promise<NewCredentials[]>;
  /**
   * A sign-in: `creds` become current, over anything stored, tombstones too. The grant they
   * replace is retired, not forgotten; past `maxRetired` retired grants the oldest is dropped.
   * Unless newer: when `creds`' grant is already current, nothing is written and the stored
   * credentials are returned (a refresh may have rotated them since; a sign-in written again must
   * not bring back its spent refresh token).
   */
  replace(key: string, creds: NewCredentials, maxRetired: number): Promise<Credentials>;
  /**
   * Compare-and-set: writes only if the stored version is `expectedVersion` (or a conditional
   * remove replaced exactly that version: see `remove`); null when it is not. Idempotent: when the
   * very same tokens are already current (a write retried after an unknown outcome), returns them.
   */
  update(key: string, creds: NewCredentials, expectedVersion: number): Promise<Credentials | null>;
  /**
   * Keeps a grant the app holds but will not use: nothing when it is the current grant, its
   * entry updated when it is already retired, else appended (dropping the oldest past
   * `maxRetired`). With `onlyIfKept`, nothing is written (false) when the key holds no grant at
   * all, current or retired.
   */
  retire(key: string, creds: NewCredentials, maxRetired: number, onlyIfKept: boolean): Promise<boolean>;
  /**
   * Removes exactly the grants named (current or retired) after their revocation, each only while
   * it still holds the refresh token named: a late writer's newer tokens of the same grant stay,
   * for the caller to find and revoke. When no current grant is left, the tombstone is final: no
   * late `update` can write past it.
   */
  forget(key: string, grants: readonly RevokedGrant[]): Promise<void>;
  /**
   * A grant found dead: deletes the current credentials if their version is still
   * `expectedVersion` (false when another write came first), leaving a tombstone. A late
   * `update` expecting that same version may still land: it carries tokens only a live grant
   * could have issued.
   */
  remove(key: string, expectedVersion: number): Promise<boolean>;
  /** Takes the key's refresh lock for `ttlMs`, or null when someone else holds it. */
  lock(key: string, ttlMs: number): Promise<LockHandle | null>;
  /**
   * Optional: `get`, and in the same atomic step, when the credentials read expire at or before
   * `dueBy` (ms since the epoch, the caller's clock), their refresh lock taken for `ttlMs` as
   * `lock` takes it. What saves a refresh whose credentials were not in memory a round trip: its
   * read is its lock. A store that cannot tell the expiry without opening the credentials answers
   * no lock (`lock` undefined): the caller opens them and locks itself.
   */
  getLockingIfDue?(key: string, dueBy: number, ttlMs: number): Promise<DueRead>;
  /**
   * Resolves once the key's version differs from `sinceVersion`, the key's lock is free, or
   * `timeoutMs` milliseconds have passed, whichever comes first. A span, not a deadline: the
   * caller's clock (a test's fake one, say) and the store's (a server's) need not agree.
   *
   * A store that learns the new credentials with the change itself (Redis: the write's message
   * carries them) may resolve with them, as `get` would answer: the caller then reads nothing.
   * Resolving with `undefined` is always correct: the caller reads.
   */
  waitForChange(key: string, sinceVersion: number, timeoutMs: number): Promise<Credentials | undefined>;
  /**
   * Every key that holds a current grant, with its status, in no particular order, streamed (a
   * store never gathers them all in memory). Tombstones and keys holding only retired grants are
   * left out. A key written or removed during the listing may or may not appear.
   */
  list(): AsyncIterable<OrganizationStatus>;
  /**
   * Optional: calls `onChange(key)` after every change to a key's current credentials (a write, a
   * removal), by any process, for as long as the watch is live; `onChange(undefined)` when changes
   * may have been missed (a lost connection). What `TokenManager` needs to keep unsealed
   * credentials in memory between calls: without it, every call reads the store.
   */
  watch?(onChange: (key: string | undefined) => void): StoreWatch;
  /**
   * Optional: whether the store answers and still has its memory (see {@link StoreHealth}), for
   * a readiness probe. A store without it is taken to be `ok`.
   */
  health?(): Promise<StoreHealth>;
  /**
   * Optional: asked after `get(key)` found nothing. True when the key's credentials may have been
   * lost with the store's memory: the store has noticed a loss (it checks again here) and the key
   * holds no trace at all (no tombstone, no retired grant). The manager then reports the
   * organization as lost rather than never connected, and a refresh in flight keeps the grant it
   * holds instead of letting it go. A store without it is taken to answer false.
   */
  lost?(key: string): Promise<boolean>;
  /**
   * Optional: set-if-absent with a ttl, one name space for the whole fleet on this store (apart
   * from the credentials' keys). The first caller for `name` gets the claim, pending for `ttlMs`
   * (past it, a holder that died frees the name); until the claim is released or expires, every
   * other caller gets null and whether its holder has completed it. What the webhooks receiver
   * deduplicates deliveries with: once per event, whichever process receives it.
   */
  claim?(name: string, ttlMs: number): Promise<ClaimOutcome>;
  /**
   * Optional, with `saveWebhook`: the organization's webhook as last saved (null: none), opened.
   * What `organizationWebhooks` keeps each organization's webhook with, and the webhooks
   * receiver reads its secret from. Kept apart from the credentials: a sign-in, a refresh or a
   * removal of the grant leaves it as it is.
   */
  webhook?(key: string): Promise<StoredWebhook | null>;
  /**
   * Optional, with `webhook`: compare-and-set of the organization's webhook on its id. Writes
   * `next` (null: deletes the record) only while the stored record's id is `expectedId` (null:
   * no record); false, and nothing written, when it is not. Seals `next` as it seals credentials.
   */
  saveWebhook?(key: string, next: StoredWebhook | null, expectedId: string | null): Promise<boolean>;
}
