import { StoreUnavailableError } from '../errors/index.js';
import { numberOption } from '../number-option.js';
import { fingerprintOf, storedFieldsOf, type Credentials, type NewCredentials } from './credentials.js';
import type { PostgresPoolLike } from './postgres-client.js';
import { bounded, type BoundedQuery } from './postgres-bounded.js';
import { claimIn } from './postgres-claims.js';
import { currentAt, lockIn, openedRow, readLockingIn } from './postgres-lock.js';
import { listOrganizationsIn, type StatusRow } from './postgres-list.js';
import type { PostgresTokenStoreOptions } from './postgres-options.js';
import { PostgresListener, type WrittenNotice } from './postgres-listener.js';
import { channelOf, ident, migrate } from './postgres-schema.js';
import { PostgresVigil } from './postgres-vigil.js';
import {
  exportSealedFromRows,
  importSealedIntoRows,
  sealedKeysIn,
  type PostgresSealedSource,
} from './postgres-sealed.js';
import type { ImportOutcome, SealedGrantRecord, SealedStore } from './sealed-record.js';
import { parseKeyring, type SealingKey } from './seal.js';
import { CredentialSealer } from './credential-sealer.js';
import { waitForChangeOf } from './change-wait.js';
import { systemClock } from './clock.js';
import { saveWebhookIn, webhookIn } from './postgres-webhooks.js';
import { credKeyOf } from './redis-schema.js';
import type {
  ClaimOutcome,
  DueRead,
  LockHandle,
  OrganizationStatus,
  RevokedGrant,
  StoreHealth,
  StoreWatch,
  StoredWebhook,
  TokenStore,
} from './store.js';

export type { PostgresClientLike, PostgresPoolLike } from './postgres-client.js';
export type { PostgresTokenStoreOptions } from './postgres-options.js';

const OWNER = 'PostgresTokenStore';

/**
 * The token store in PostgreSQL: credentials sealed with AES-256-GCM (a dump holds no usable
 * token), written with a compare-and-set on their version by PL/pgSQL functions (one round trip,
 * one transaction each), a lease row per organization as the refresh lock, and `LISTEN`/`NOTIFY`
 * from the writing transaction to wake waiters and caches, with a poll behind it. The store
 * creates its schema at first use (or at {@link PostgresTokenStore.migrate}) and records its
 * version. Every statement is a transaction of its own: PgBouncer's transaction mode is fine.
 *
 * @example
 * ```ts
 * import { Pool } from 'pg';
 * import { PostgresTokenStore } from 'passport-samsara';
 *
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL });
 * pool.on('error', () => {}); // idle connections that drop are replaced; the store reports outages
 * const store = new PostgresTokenStore({ pool });
 * process.on('SIGTERM', () => store.close());
 * ```
 */
export class PostgresTokenStore implements TokenStore, SealedStore {
  readonly #pool: PostgresPoolLike;
  readonly #keyring: SealingKey[];
  readonly #sealer: CredentialSealer;
  readonly #schemaName: string;
  readonly #s: string;
  readonly #prefix: string;
  readonly #timeout: number;
  readonly #pollInterval: number;
  readonly #listBatchSize: number;
  readonly #listener: PostgresListener;
  readonly #vigil: PostgresVigil;
  /** {@link #query} for the store's parts (claims, lease, webhook record). */
  readonly #run: BoundedQuery = (what, text, values) => this.#query(what, text, values);
  #ready: Promise<void> | undefined;
  #closed = false;

  constructor(options: PostgresTokenStoreOptions) {
    this.#keyring = parseKeyring(options.keys ?? process.env.SAMSARA_SEALING_KEYS ?? '');
    this.#sealer = new CredentialSealer(this.#keyring);
    this.#pool = options.pool;
    this.#schemaName = options.schema ?? 'samsara';
    this.#s = ident(this.#schemaName);
    this.#prefix = options.prefix ?? 'samsara:';
    this.#timeout = numberOption(OWNER, 'timeout', options.timeout, 2000);
    this.#pollInterval = numberOption(OWNER, 'pollInterval', options.pollInterval, 250);
    this.#listBatchSize = numberOption(OWNER, 'listBatchSize', options.listBatchSize, 500, {
      min: 1,
      max: 10_000,
      integer: true,
    });
    this.#listener = new PostgresListener(options.listenPool ?? this.#pool, channelOf(this.#schemaName), 10_000);
    this.#vigil = new PostgresVigil({
      schema: this.#s,
      query: (what, text, values) => this.#query(what, text, values, false),
      migrate: () => bounded(this.#timeout, 'migration', () => migrate(this.#pool, this.#schemaName)),
      reportLossFor: numberOption(OWNER, 'reportLossFor', options.reportLossFor, 60_000, { min: 0 }),
    });
  }

  /** The pool, schema and prefix it was made with: what a `PostgresRateLimiter` beside it shares. */
  get connection(): { pool: PostgresPoolLike; schema: string; prefix: string } {
    return { pool: this.#pool, schema: this.#schemaName, prefix: this.#prefix };
  }

  /**
   * Creates the schema, or migrates it to this release's version; done at first use otherwise.
   * Call it at deploy time to keep DDL out of the first request. Idempotent, safe to run from
   * every process at once.
   */
  migrate(): Promise<void> {
    this.#ready ??= bounded(this.#timeout, 'migration', () => migrate(this.#pool, this.#schemaName))
      .then(() => {
        // The first epoch read, in the background: a loss is noticed against it later.
        this.#vigil.check('reconnect').catch(() => undefined);
      })
      .catch((err: unknown) => {
        this.#ready = undefined;
        throw err;
      });
    return this.#ready;
  }

  async get(key: string): Promise<Credentials | null> {
    const row = await this.#one<{ version: string; sealed: string | null }>(
      'read',
      `SELECT version, sealed FROM ${this.#s}.grants WHERE key = $1`,
      [key],
    );
    return row ? openedRow(row, (sealed) => this.#open(sealed, key)) : null;
  }

  async retired(key: string): Promise<NewCredentials[]> {
    const rows = await this.#query<{ sealed: string }>(
      'read',
      `SELECT sealed FROM ${this.#s}.retired WHERE key = $1 ORDER BY seq`,
      [key],
    );
    return rows.map((row) => this.#open(row.sealed, key));
  }

  /** A sign-in, unless its grant is already current (then that grant's credentials, maybe rotated since). */
  async replace(key: string, creds: NewCredentials, maxRetired: number): Promise<Credentials> {
    const stored = await this.#write(key, creds, null, maxRetired);
    if (!stored) throw new StoreUnavailableError("The token store (Postgres) did not take a sign-in's write.");
    return stored;
  }

  update(key: string, creds: NewCredentials, expectedVersion: number): Promise<Credentials | null> {
    return this.#write(key, creds, expectedVersion, 0);
  }

  async retire(key: string, creds: NewCredentials, maxRetired: number, onlyIfKept: boolean): Promise<boolean> {
    const row = await this.#one<{ kept: boolean }>(
      'retire',
      `SELECT ${this.#s}.retire($1, $2, $3, $4, $5, $6) AS kept`,
      [key, creds.grantId, this.#seal(creds, key), fingerprintOf(creds.refreshToken), maxRetired, onlyIfKept],
    );
    return row?.kept ?? false;
  }

  async forget(key: string, grants: readonly RevokedGrant[]): Promise<void> {
    await this.#query('forget', `SELECT ${this.#s}.forget($1, $2::text[], $3::text[])`, [
      key,
      grants.map((grant) => grant.grantId),
      grants.map((grant) => fingerprintOf(grant.refreshToken)),
    ]);
  }

  async remove(key: string, expectedVersion: number): Promise<boolean> {
    const row = await this.#one<{ removed: boolean }>('remove', `SELECT ${this.#s}.remove($1, $2) AS removed`, [
      key,
      expectedVersion,
    ]);
    return row?.removed ?? false;
  }

  /** A lease row (`locks`): taken when absent or expired, extended or taken again, released by compare-and-delete. */
  lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    return lockIn(this.#run, this.#s, key, ttlMs, (sealed) => this.#open(sealed, key));
  }
  /** One statement: the read, and the lease when the row's expiry says the grant is due. */
  getLockingIfDue(key: string, dueBy: number, ttlMs: number): Promise<DueRead> {
    return readLockingIn(this.#run, this.#s, key, dueBy, ttlMs, (sealed) => this.#open(sealed, key));
  }

  /**
   * Any NOTIFY for the key (a write, a removal, an unlock) ends the wait; a jittered poll of its
   * state (version, lease) every `pollInterval` covers a LISTEN connection that is down. A write's
   * notification carries its version and sealed value: one past `sinceVersion` resolves the wait
   * with those credentials, so the waiter reads nothing.
   */
  async waitForChange(key: string, sinceVersion: number, timeoutMs: number): Promise<Credentials | undefined> {
    let written: WrittenNotice | undefined;
    await waitForChangeOf(
      {
        // Real time: the lease's expiry is the server's, in real milliseconds.
        clock: systemClock,
        subscription: this.#closed
          ? undefined
          : (_recheck, end) =>
              this.#listener.listen(key, (notice) => {
                if (notice && notice.version > sinceVersion) written = notice;
                end();
              }),
        state: async () => {
          const state = await this.#one<{ version: string | null; lock_ms: string | null }>(
            'state read',
            `SELECT (SELECT version FROM ${this.#s}.grants WHERE key = $1) AS version,
                    (SELECT expires_at - ${this.#s}.now_ms() FROM ${this.#s}.locks WHERE key = $1) AS lock_ms`,
            [key],
          );
          const lockMs = Number(state?.lock_ms ?? 0);
          // A lease at its expiry is free to take: 1 ms more, so the read after the pause finds it so.
          return { version: Number(state?.version ?? 0), lockMs: lockMs > 0 ? lockMs + 1 : 0 };
        },
        pollInterval: this.#pollInterval,
      },
      sinceVersion,
      timeoutMs,
    );
    // A value that does not open is left out: the caller reads it, and meets its error there.
    return written ? (currentAt(written, (sealed) => this.#open(sealed, key)).current ?? undefined) : undefined;
  }

  /** Notifications from the store's one LISTEN connection; live while it is up and listening. */
  watch(onChange: (key: string | undefined) => void): StoreWatch {
    return this.#listener.watch(onChange);
  }

  /** Keyset pagination in key order (byte order): one page of `listBatchSize` rows held at a time. */
  list(): AsyncIterable<OrganizationStatus> {
    return listOrganizationsIn(
      (after) =>
        this.#query<StatusRow>(
          'list',
          `SELECT key, grant_id, expires_at, version, written_at, region, client_id FROM ${this.#s}.grants
            WHERE sealed IS NOT NULL AND ($1::text IS NULL OR key > $1::text) ORDER BY key LIMIT $2`,
          [after, this.#listBatchSize],
        ),
      this.#listBatchSize,
    );
  }

  /** Every key with a row, tombstones too: what `copy-grants` walks (see `SealedStore`). */
  sealedKeys(): AsyncIterable<string> {
    return sealedKeysIn(this.#sealed());
  }

  /** The key's rows as a sealed record, nothing opened (see `SealedStore`). */
  exportSealed(key: string): Promise<SealedGrantRecord | null> {
    return exportSealedFromRows(this.#sealed(), key);
  }

  /** The record written only over an older version of the key (see `SealedStore`). */
  importSealed(key: string, record: SealedGrantRecord): Promise<ImportOutcome> {
    return importSealedIntoRows(this.#sealed(), key, record);
  }

  /** A claim in the `claims` table, swept as claims come in. */
  claim(name: string, ttlMs: number): Promise<ClaimOutcome> {
    return claimIn(this.#run, this.#s, name, ttlMs);
  }

  /** The organization's row in `webhooks`, opened. */
  webhook(key: string): Promise<StoredWebhook | null> {
    return webhookIn(this.#run, this.#s, key, this.#keyring, this.#sealedAs(key));
  }

  /** Compare-and-set of the webhook record on its id, sealed like the key's credentials. */
  saveWebhook(key: string, next: StoredWebhook | null, expectedId: string | null): Promise<boolean> {
    return saveWebhookIn(this.#run, this.#s, key, { next, expectedId }, this.#keyring, this.#sealedAs(key));
  }

  /** A round trip and the epoch row: `lost-data` for `reportLossFor` after a loss was noticed. */
  async health(): Promise<StoreHealth> {
    try {
      await this.migrate();
    } catch (err) {
      return { status: 'unavailable', reason: (err as Error).message };
    }
    return this.#vigil.report();
  }

  /** After a miss: whether the key's credentials went with the store's data (see `TokenStore.lost`). */
  async lost(key: string): Promise<boolean> {
    await this.migrate();
    return this.#vigil.lost(key);
  }

  /** Ends the LISTEN connection; later waits only poll. The pool stays open: it is the caller's to end. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listener.close();
  }

  async #write(
    key: string,
    creds: NewCredentials,
    expectedVersion: number | null,
    maxRetired: number,
  ): Promise<Credentials | null> {
    const row = await this.#one<{ version: string | null; sealed: string | null }>(
      'write',
      `SELECT * FROM ${this.#s}.write($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        key,
        expectedVersion,
        this.#seal(creds, key),
        creds.grantId,
        fingerprintOf(creds.refreshToken),
        maxRetired,
        creds.expiresAt,
        creds.region ?? null,
        creds.clientID ?? null,
        fingerprintOf(JSON.stringify(storedFieldsOf(creds))),
      ],
    );
    if (!row?.version) return null;
    // sealed: a sign-in whose grant was already current, answered with what is stored.
    return { ...(row.sealed ? this.#open(row.sealed, key) : storedFieldsOf(creds)), version: Number(row.version) };
  }

  #sealed(): PostgresSealedSource {
    const { s, channel } = { s: this.#s, channel: channelOf(this.#schemaName) };
    const query = <R>(what: string, text: string, values: unknown[]): Promise<R[]> =>
      this.#query<R>(what, text, values);
    return {
      pool: this.#pool,
      s,
      channel,
      batchSize: this.#listBatchSize,
      query,
      ready: () => this.migrate(),
      sealedAs: (key) => this.#sealedAs(key),
    };
  }

  /** The name a key's values are sealed under (as RedisTokenStore's key for it). */
  #sealedAs(key: string): string {
    return credKeyOf(this.#prefix, key);
  }

  #seal(creds: NewCredentials, key: string): string {
    return this.#sealer.seal(creds, this.#sealedAs(key));
  }

  #open(sealed: string, key: string): NewCredentials {
    return this.#sealer.open(sealed, this.#sealedAs(key));
  }

  /** A query once the schema is ready (`migrated`: wait for it), bounded by `timeout`. */
  async #query<R>(what: string, text: string, values: unknown[] = [], migrated = true): Promise<R[]> {
    if (migrated) await (this.#ready ?? this.migrate());
    const { rows } = await bounded(this.#timeout, what, () => this.#pool.query(text, values));
    return rows as R[];
  }

  /** The first row of {@link #query}'s, if any. */
  async #one<R>(what: string, text: string, values: unknown[] = []): Promise<R | undefined> {
    return (await this.#query<R>(what, text, values)).at(0);
  }
}
