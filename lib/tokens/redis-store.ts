import { holderName } from './holder.js';
import { ConfigurationError, StoreUnavailableError } from '../errors/index.js';
import { fingerprintOf, storedFieldsOf, type Credentials, type NewCredentials } from './credentials.js';
import { numberOption } from '../number-option.js';
import { open, parseKeyring, seal, type SealingKey } from './seal.js';
import { CredentialSealer } from './credential-sealer.js';
import { RedisChannels } from './redis-channels.js';
import type { RedisClientLike } from './redis-client.js';
import { keyPrefixOf } from './redis-config.js';
import { RedisVigil } from './redis-health.js';
import { claimOn } from './redis-claims.js';
import { RedisDurability, type RedisDurabilityOptions } from './redis-durability.js';
import { listOrganizations } from './redis-list.js';
import { exportSealedFrom, importSealedInto, sealedKeysOf, type RedisSealedSource } from './redis-sealed.js';
import { defineScripts, positional, SCRIPTS, type ScriptedClient } from './redis-scripts.js';
import {
  channelOf,
  channelPattern,
  claimKeyOf,
  credKeyOf,
  encodedKeyOfChannel,
  FIELD,
  lockKeyOf,
  retiredField,
  webhookKeyOf,
} from './redis-schema.js';
import { waitForChangeOf } from './change-wait.js';
import { systemClock } from './clock.js';
import { withinTimeout } from './store-failure.js';
import type { ImportOutcome, SealedGrantRecord, SealedStore } from './sealed-record.js';
import type {
  ClaimOutcome,
  DueRead,
  LockHandle,
  OrganizationStatus,
  RevokedGrant,
  StoreHealth,
  StoredWebhook,
  StoreWatch,
  TokenStore,
} from './store.js';

export type { RedisClientLike, RedisSubscriberLike } from './redis-client.js';
export type { RedisDurabilityOptions } from './redis-durability.js';

/**
 * Options of {@link RedisTokenStore}.
 *
 * @example
 * ```ts
 * const options: RedisTokenStoreOptions = { client: new Redis(process.env.REDIS_URL!), timeout: 1000 };
 * ```
 */
export interface RedisTokenStoreOptions {
  /** An ioredis 5 or 6 client or `Redis.Cluster`. The store never quits it. */
  client: RedisClientLike;
  /** The sealing keyring, newest first. Default: `process.env.SAMSARA_SEALING_KEYS`. */
  keys?: string | SealingKey[];
  /** Prefix of every Redis key; must not contain `{` or `}`. Default `'samsara:'`. */
  prefix?: string;
  /** Milliseconds a store operation may take before it fails with `StoreUnavailableError`. Default 2000. */
  timeout?: number;
  /** Milliseconds a removed key's tombstone is kept (it stops late refreshes). Default 24 h. */
  tombstoneTtl?: number;
  /** Mean milliseconds between state polls while waiting (pub/sub can drop messages). Default 250. */
  pollInterval?: number;
  /** Keys per SCAN page when listing organizations, and so the most held at once. Default 500. */
  listBatchSize?: number;
  /**
   * Milliseconds `health()` answers `lost-data` after the store noticed that Redis lost its data
   * (then `ok` again: waiting does not bring tokens back, and a probe that fails for good would
   * keep every process out of service, sign-ins included). Long enough for default readiness
   * probes and load-balancer checks to see it; 0: never. Default 60 000.
   */
  reportLossFor?: number;
  /**
   * When a write carrying a new refresh token (a refresh, a sign-in) counts as saved: once the
   * replicas acknowledged it (`WAIT`, and `WAITAOF` where the server has it and AOF is on). Until
   * then the manager keeps the tokens, serves them, holds the lock and writes them again.
   * Default `{ replicas: 'auto', timeoutMs: 1000 }`: every connected replica, nothing on a
   * standalone Redis. See docs/multi-process.md.
   */
  durability?: RedisDurabilityOptions;
}

const DAY = 24 * 60 * 60 * 1000;

/**
 * The token store for a fleet: credentials in Redis, sealed with AES-256-GCM, written with a
 * compare-and-set on their version, one refresh lock per organization, and pub/sub to wake the
 * processes waiting for a refresh. Works with ioredis 5 and 6, standalone or `Redis.Cluster`.
 *
 * A write that fails with `StoreUnavailableError` has an unknown outcome: ioredis may still deliver it
 * later. The version compare-and-set keeps that harmless.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { RedisTokenStore } from 'passport-samsara';
 *
 * // SAMSARA_SEALING_KEYS="k20261129:<base64>" (see generateSealingKey)
 * const store = new RedisTokenStore({ client: new Redis(process.env.REDIS_URL!) });
 * process.on('SIGTERM', () => store.close());
 * ```
 */
export class RedisTokenStore implements TokenStore, SealedStore {
  readonly #client: RedisClientLike;
  readonly #commands: ScriptedClient;
  readonly #keyring: SealingKey[];
  readonly #sealer: CredentialSealer;
  readonly #prefix: string;
  readonly #timeout: number;
  readonly #tombstoneTtl: number;
  readonly #pollInterval: number;
  readonly #listBatchSize: number;
  readonly #channels: RedisChannels;
  /** ioredis's own `keyPrefix`, which it adds to keys but not to SCAN patterns or channels. */
  readonly #keyPrefix: string;
  readonly #vigil: RedisVigil;
  readonly #durability: RedisDurability;
  #closed = false;

  constructor(options: RedisTokenStoreOptions) {
    this.#keyring = parseKeyring(options.keys ?? process.env.SAMSARA_SEALING_KEYS ?? '');
    this.#sealer = new CredentialSealer(this.#keyring);
    this.#prefix = options.prefix ?? 'samsara:';
    if (/[{}]/.test(this.#prefix)) {
      throw new ConfigurationError(
        "The RedisTokenStore prefix must not contain { or }: the store adds its own hash tag so that an organization's keys share one Cluster slot.",
      );
    }
    this.#timeout = numberOption('RedisTokenStore', 'timeout', options.timeout, 2000);
    this.#tombstoneTtl = Math.ceil(numberOption('RedisTokenStore', 'tombstoneTtl', options.tombstoneTtl, DAY));
    this.#pollInterval = numberOption('RedisTokenStore', 'pollInterval', options.pollInterval, 250);
    this.#listBatchSize = numberOption('RedisTokenStore', 'listBatchSize', options.listBatchSize, 500, {
      min: 1,
      max: 10_000,
      integer: true,
    });
    this.#durability = new RedisDurability(options.durability, this.#timeout);
    this.#client = options.client;
    this.#keyPrefix = keyPrefixOf(this.#client);
    defineScripts(this.#client, SCRIPTS);
    this.#commands = this.#client as unknown as ScriptedClient;
    this.#channels = new RedisChannels(this.#client, (what, command) => this.#call(what, command));
    this.#vigil = new RedisVigil({
      client: this.#client,
      prefix: this.#prefix,
      reportLossFor: numberOption('RedisTokenStore', 'reportLossFor', options.reportLossFor, 60_000, { min: 0 }),
      call: (what, command) => this.#call(what, command),
      warn: (message, code) => process.emitWarning(message, { code }),
    });
  }

  /** The client and prefix it was made with: what a `RedisRateLimiter` beside it shares. */
  get connection(): { client: RedisClientLike; prefix: string } {
    return { client: this.#client, prefix: this.#prefix };
  }

  async get(key: string): Promise<Credentials | null> {
    const credKey = this.#credKey(key);
    const [version, sealed] = await this.#call('read', () =>
      this.#commands.hmget(credKey, FIELD.version, FIELD.sealed),
    );
    return this.#opened(version, sealed, credKey);
  }

  async retired(key: string): Promise<NewCredentials[]> {
    const credKey = this.#credKey(key);
    const fields = await this.#call('read', () => this.#commands.hgetall(credKey));
    // A key without retired grants has no retired-ids field at all.
    const ids = ((fields[FIELD.retiredIds] as string | undefined) ?? '').split(' ').filter(Boolean);
    return ids.flatMap((id) => {
      const sealed = fields[retiredField(id)];
      return sealed ? [this.#open(sealed, credKey)] : [];
    });
  }

  /** A sign-in, unless its grant is already current (then that grant's credentials, maybe rotated since). */
  async replace(key: string, creds: NewCredentials, maxRetired: number): Promise<Credentials> {
    const stored = await this.#write(key, creds, null, maxRetired);
    // Without an expected version the write script always answers; a null is a broken Redis.
    if (!stored) throw new StoreUnavailableError("The token store (Redis) did not take a sign-in's write.");
    if (stored.version > 0) return stored;
    const current = await this.get(key);
    if (!current) throw new StoreUnavailableError("The token store (Redis) lost a sign-in's grant as it answered.");
    return current;
  }

  async update(key: string, creds: NewCredentials, expectedVersion: number): Promise<Credentials | null> {
    return this.#write(key, creds, expectedVersion, 0);
  }

  async retire(key: string, creds: NewCredentials, maxRetired: number, onlyIfKept: boolean): Promise<boolean> {
    const credKey = this.#credKey(key);
    const sealed = this.#seal(creds, credKey);
    const kept = await this.#call('retire', () =>
      this.#commands.samsaraTokenRetire(
        ...positional(SCRIPTS.samsaraTokenRetire, {
          key: credKey,
          grantId: creds.grantId,
          sealed,
          maxRetired,
          onlyIfKept: onlyIfKept ? '1' : '0',
          fingerprint: fingerprintOf(creds.refreshToken),
        }),
      ),
    );
    return kept === 1;
  }

  async forget(key: string, grants: readonly RevokedGrant[]): Promise<void> {
    const credKey = this.#credKey(key);
    const pairs = grants.flatMap((grant) => [grant.grantId, fingerprintOf(grant.refreshToken)]);
    await this.#call('forget', () =>
      this.#commands.samsaraTokenForget(
        ...positional(
          SCRIPTS.samsaraTokenForget,
          { key: credKey, tombstoneTtl: this.#tombstoneTtl, channel: this.#channel(credKey) },
          pairs,
        ),
      ),
    );
  }

  async remove(key: string, expectedVersion: number): Promise<boolean> {
    const credKey = this.#credKey(key);
    const removed = await this.#call('remove', () =>
      this.#commands.samsaraTokenRemove(
        ...positional(SCRIPTS.samsaraTokenRemove, {
          key: credKey,
          expectedVersion,
          tombstoneTtl: this.#tombstoneTtl,
          channel: this.#channel(credKey),
        }),
      ),
    );
    return removed === 1;
  }

  async lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    const credKey = this.#credKey(key);
    const lockKey = lockKeyOf(credKey);
    const token = holderName();
    const taken = await this.#call('lock', () =>
      this.#commands.samsaraTokenLock(
        ...positional(SCRIPTS.samsaraTokenLock, {
          lockKey,
          key: credKey,
          holder: token,
          ttlMs: Math.max(1, Math.ceil(ttlMs)),
        }),
      ),
    );
    if (!taken) return null;
    return { ...this.#currentAt(taken, credKey), ...this.#held(credKey, lockKey, token) };
  }

  /** One script: the read, and the lock when the stored expiry says the grant is due. */
  async getLockingIfDue(key: string, dueBy: number, ttlMs: number): Promise<DueRead> {
    const credKey = this.#credKey(key);
    const lockKey = lockKeyOf(credKey);
    const token = holderName();
    const [version, sealed, lock] = await this.#call('read', () =>
      this.#commands.samsaraTokenReadLocking(
        ...positional(SCRIPTS.samsaraTokenReadLocking, {
          key: credKey,
          lockKey,
          dueBy: Math.floor(dueBy),
          holder: token,
          ttlMs: Math.max(1, Math.ceil(ttlMs)),
        }),
      ),
    );
    const held = lock === 1 ? this.#held(credKey, lockKey, token) : undefined;
    let credentials: Credentials | null;
    try {
      credentials = this.#opened(version, sealed, credKey);
    } catch (err) {
      // Nobody can refresh what does not open: the lock goes back.
      await held?.release().catch(() => undefined);
      throw err;
    }
    if (lock === 0) return { credentials };
    return { credentials, lock: held ? { ...held, current: credentials } : null };
  }

  /** A taken lock's `extend` and `release`, by its holder's name. */
  #held(credKey: string, lockKey: string, token: string): Pick<LockHandle, 'extend' | 'release'> {
    return {
      extend: async (ms: number) =>
        (await this.#call('lock extension', () =>
          this.#commands.samsaraTokenExtend(
            ...positional(SCRIPTS.samsaraTokenExtend, { lockKey, holder: token, ttlMs: Math.max(1, Math.ceil(ms)) }),
          ),
        )) === 1,
      release: async () => {
        await this.#call('unlock', () =>
          this.#commands.samsaraTokenUnlock(
            ...positional(SCRIPTS.samsaraTokenUnlock, { lockKey, holder: token, channel: this.#channel(credKey) }),
          ),
        );
      },
    };
  }

  /**
   * Also resolves with the credentials a write made, when its message woke the wait: the write's
   * message carries its version and sealed value, so a waiter needs no read of its own.
   */
  async waitForChange(key: string, sinceVersion: number, timeoutMs: number): Promise<Credentials | undefined> {
    const credKey = this.#credKey(key);
    let written: string[] | undefined;
    await waitForChangeOf(
      {
        // Real time: the lock's ttl is the server's, in real milliseconds.
        clock: systemClock,
        // A write's message names the version it made (and, a write of credentials, their sealed
        // value): one past `sinceVersion` is a change, and ends the wait without reading the state
        // (versions only grow). Any other message (an unlock, an older write) sends the wait to
        // read the state again, rather than ending it: on a Cluster, a message published before
        // the wait began can arrive after it did (the cluster bus carries it to the subscriber's
        // node). close() ends it.
        subscription: this.#closed
          ? undefined
          : (recheck, end) => {
              const listening = this.#channels.listen(this.#channel(credKey), (message) => {
                const fields = message?.split(' ');
                if (this.#closed || Number(fields?.[0]) > sinceVersion) {
                  written = fields;
                  end();
                } else {
                  recheck();
                }
              });
              return { ready: listening.subscribed, unlisten: () => listening.unlisten() };
            },
        state: async () => {
          const [version, lockTtl] = await this.#call('state read', () =>
            this.#commands.samsaraTokenState(
              ...positional(SCRIPTS.samsaraTokenState, { key: credKey, lockKey: lockKeyOf(credKey) }),
            ),
          );
          // PTTL: -2 no lock, -1 one without expiry; else its ms, rounded down (hence the 1 ms more).
          return { version, lockMs: lockTtl === -2 ? 0 : lockTtl === -1 ? Infinity : lockTtl + 1 };
        },
        pollInterval: this.#pollInterval,
      },
      sinceVersion,
      timeoutMs,
    );
    // A value that does not open is left out: the caller reads it, and meets its error there.
    return written?.[1] ? (this.#currentAt([written[0], written[1]], credKey).current ?? undefined) : undefined;
  }

  /**
   * One pattern subscription to every key's channel (each write, removal and unlock publishes
   * there), shared by every watcher of this store. Never live on a Cluster, nor after `close()`.
   */
  watch(onChange: (key: string | undefined) => void): StoreWatch {
    // A Cluster's pub/sub connection is ioredis's own: when it drops, ioredis moves to another
    // node without a word, so a lost message could never be known. Never live there.
    if (this.#closed || this.#client.isCluster) return { live: false, close: () => undefined };
    // The prefix is the caller's: escaped, so that its glob characters match only themselves.
    return this.#channels.watch(
      channelPattern(this.#keyPrefix, this.#prefix),
      (channel) => {
        onChange(keyOfChannel(encodedKeyOfChannel(this.#keyPrefix, this.#prefix, channel)));
      },
      () => {
        onChange(undefined);
      },
    );
  }

  list(): AsyncIterable<OrganizationStatus> {
    const client = this.#client;
    return listOrganizations({
      // A Cluster's keys are spread over its masters, and SCAN walks one node only.
      scanners: () => (client.isCluster && client.nodes ? client.nodes('master') : [this.#commands]),
      commands: this.#commands,
      prefix: this.#prefix,
      keyPrefix: this.#keyPrefix,
      batchSize: this.#listBatchSize,
      call: (what, command) => this.#call(what, command),
      open: (sealed, credKey) => this.#open(sealed, credKey),
    });
  }

  /** Every key holding anything, tombstones too: what `copy-grants` walks (see `SealedStore`). */
  sealedKeys(): AsyncIterable<string> {
    return sealedKeysOf(this.#sealed());
  }

  /** The key's hash as a sealed record, nothing opened (see `SealedStore`). */
  exportSealed(key: string): Promise<SealedGrantRecord | null> {
    return exportSealedFrom(this.#sealed(), key);
  }

  /** The record written only over an older version of the key (see `SealedStore`). */
  importSealed(key: string, record: SealedGrantRecord): Promise<ImportOutcome> {
    return importSealedInto(this.#sealed(), key, record);
  }

  /** A claim in a key of its own, `{prefix}claim:{<name>}`, that expires with its ttl. */
  async claim(name: string, ttlMs: number): Promise<ClaimOutcome> {
    const call = <T>(what: string, command: () => Promise<T>): Promise<T> => this.#call(what, command);
    return claimOn(this.#commands, call, claimKeyOf(this.#prefix, name), ttlMs);
  }

  /** The organization's webhook record, `{prefix}{org:<id>}:webhook`, opened. */
  async webhook(key: string): Promise<StoredWebhook | null> {
    const webhookKey = webhookKeyOf(this.#credKey(key));
    const [sealed] = await this.#call('webhook read', () => this.#commands.hmget(webhookKey, FIELD.sealed));
    return sealed ? (JSON.parse(open(this.#keyring, sealed, webhookKey)) as StoredWebhook) : null;
  }

  /** Compare-and-set of the webhook record on its id, sealed with the key's name as AAD. */
  async saveWebhook(key: string, next: StoredWebhook | null, expectedId: string | null): Promise<boolean> {
    const webhookKey = webhookKeyOf(this.#credKey(key));
    const record = next && { id: next.id, url: next.url, secretKey: next.secretKey };
    const sealed = record ? seal(this.#keyring, JSON.stringify(record), webhookKey) : '';
    const written = await this.#call('webhook write', () =>
      this.#commands.samsaraWebhookSave(
        ...positional(SCRIPTS.samsaraWebhookSave, {
          webhookKey,
          expectedId: expectedId ?? '',
          id: record?.id ?? '',
          sealed,
        }),
      ),
    );
    return written === 1;
  }

  /**
   * Whether Redis answers (a ping) and still holds what this store wrote (its epoch marker, every
   * master's on a Cluster): `lost-data` for `reportLossFor` after a loss was noticed.
   */
  health(): Promise<StoreHealth> {
    return this.#vigil.report();
  }

  /** After a miss: whether Redis lost `key`'s credentials with its memory (see `TokenStore.lost`). */
  lost(key: string): Promise<boolean> {
    return this.#vigil.lost(this.#credKey(key));
  }

  /**
   * Ends the store's own pub/sub connection and wakes every waiter; later waits only poll. The
   * client passed in stays open: it is the caller's to quit.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#channels.close();
    this.#vigil.close();
  }

  #sealed(): RedisSealedSource {
    const client = this.#client;
    return {
      client,
      scanners: () => (client.isCluster && client.nodes ? client.nodes('master') : [this.#commands]),
      prefix: this.#prefix,
      keyPrefix: this.#keyPrefix,
      batchSize: this.#listBatchSize,
      tombstoneTtl: this.#tombstoneTtl,
      credKey: (key) => this.#credKey(key),
      channel: (credKey) => this.#channel(credKey),
      call: (what, command) => this.#call(what, command),
    };
  }

  /** A key's channel: its full name (ioredis's `keyPrefix` too, which it leaves off channels), then `:done`. */
  #channel(credKey: string): string {
    return channelOf(this.#keyPrefix, credKey);
  }

  #credKey(key: string): string {
    return credKeyOf(this.#prefix, key);
  }

  async #write(
    key: string,
    creds: NewCredentials,
    expectedVersion: number | null,
    maxRetired: number,
  ): Promise<Credentials | null> {
    const credKey = this.#credKey(key);
    const sealed = this.#seal(creds, credKey);
    const fingerprint = fingerprintOf(creds.refreshToken);
    const contentFingerprint = fingerprintOf(JSON.stringify(storedFieldsOf(creds)));
    const args = (primary: boolean): (string | number)[] =>
      positional(SCRIPTS.samsaraTokenWrite, {
        key: credKey,
        expectedVersion: String(expectedVersion ?? ''),
        sealed,
        channel: this.#channel(credKey),
        grantId: creds.grantId,
        maxRetired,
        expiresAt: creds.expiresAt,
        region: creds.region ?? '',
        clientId: creds.clientID ?? '',
        fingerprint,
        contentFingerprint,
        primary: primary ? '1' : '',
      });
    // Version < 0: a sign-in found its grant already current and wrote nothing (see replace).
    const version = await this.#call('write', () =>
      this.#durability.write(
        (primary) => this.#commands.samsaraTokenWrite(...args(primary)),
        () => this.#commands.pipeline(),
        (pipeline) => (pipeline as ReturnType<ScriptedClient['pipeline']>).samsaraTokenWrite(...args(false)),
      ),
    );
    return version === null ? null : { ...storedFieldsOf(creds), version };
  }

  /** The credentials read with the lock; none (the holder reads them itself) if they do not open. */
  #currentAt([version, sealed]: (string | null)[], credKey: string): { current?: Credentials | null } {
    try {
      return { current: this.#opened(version, sealed, credKey) };
    } catch {
      return {};
    }
  }

  /** The stored credentials as `get` answers them: opened, or null for none (a tombstone, no key). */
  #opened(version: string | null, sealed: string | null, credKey: string): Credentials | null {
    return sealed ? { ...this.#open(sealed, credKey), version: Number(version) } : null;
  }

  #seal(creds: NewCredentials, credKey: string): string {
    return this.#sealer.seal(creds, credKey);
  }

  #open(sealed: string, credKey: string): NewCredentials {
    return this.#sealer.open(sealed, credKey);
  }

  /** Every failure becomes `StoreUnavailableError`, within `timeout` even while ioredis queues offline. */
  #call<T>(what: string, command: () => Promise<T>): Promise<T> {
    this.#vigil.start();
    return withinTimeout('Redis', 'check that Redis is up and reachable', this.#timeout, what, command);
  }
}

/** The key a channel names; undefined (every key may have changed) for one nobody encoded. */
function keyOfChannel(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}
