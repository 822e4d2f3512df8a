import { SealError } from '../errors/index.js';

// What copying grants between stores moves: one key's record as the store holds it, sealed. No
// sealing key is needed to move it, and none is used: the values stay sealed end to end.

/**
 * A grant as a store keeps it, sealed: its id, the sealed credentials and the fingerprint of its
 * refresh token (what a conditional removal compares).
 *
 * @example
 * ```ts
 * const entry: SealedGrant = { grantId: 'g1', sealed: 'v1.k1....', fingerprint: '3f2a...' };
 * ```
 */
export interface SealedGrant {
  grantId: string;
  /** The `v1.<kid>....` value, sealed under {@link SealedGrantRecord.sealedAs}. */
  sealed: string;
  fingerprint: string;
}

/**
 * Everything a store holds for one key, sealed, as {@link SealedStore.exportSealed} gives it.
 *
 * @example
 * ```ts
 * const record = await from.exportSealed('1001');
 * if (record) await to.importSealed('1001', record);
 * ```
 */
export interface SealedGrantRecord {
  /** The name the values are sealed under (`<prefix>{org:<key>}`): they open only under that name. */
  sealedAs: string;
  /** The key's version (clock-based on both stores): a copy never lands on a version as new or newer. */
  version: number;
  /** The current grant with its non-secret status; null for a tombstone. */
  current: (SealedGrant & { expiresAt: number; writtenAt: number; region?: string; clientID?: string }) | null;
  /** A tombstone's revivable version (the one a dead-grant removal replaced), if any. */
  revivable?: number;
  /** The retired grants, oldest first. */
  retired: SealedGrant[];
}

/**
 * What {@link SealedStore.importSealed} did: imported, or skipped because the destination's
 * version of the key is newer (a refresh landed there first) or the same (copied already).
 *
 * @example
 * ```ts
 * const outcome = await to.importSealed(key, record);
 * if (!outcome.imported) console.error(key, outcome.reason);
 * ```
 */
export type ImportOutcome =
  | { imported: true }
  | {
      imported: false;
      reason: 'newer-at-destination' | 'same-version';
      version: number;
      /** The record's grants this key did not hold, kept here as retired (so none is orphaned). */
      kept: number;
    };

/**
 * A store that can hand over and take in sealed records: `RedisTokenStore` and
 * `PostgresTokenStore`. What `passport-samsara copy-grants` works with.
 *
 * @example
 * ```ts
 * for await (const key of from.sealedKeys()) {
 *   const record = await from.exportSealed(key);
 *   if (record) await to.importSealed(key, record);
 * }
 * ```
 */
export interface SealedStore {
  /** Every key holding anything (a current grant, retired ones, a tombstone), streamed. */
  sealedKeys(): AsyncIterable<string>;
  /** The key's record, sealed, read in one atomic step; null when the store holds nothing for it. */
  exportSealed(key: string): Promise<SealedGrantRecord | null>;
  /**
   * Writes `record` in one atomic step, only while the stored version of the key is older than
   * `record.version` (or there is none); the record's version becomes the key's. Nothing the
   * destination held is dropped: its current grant, if another, is retired, and its retired
   * grants stay. When the destination is as new or newer, the record's grants it does not hold
   * (by grant id) are kept there as retired, so that no grant is left with nobody to revoke it. Throws `SealError` when the record is sealed under another name than this
   * store's for the key (a different prefix: it would never open here).
   */
  importSealed(key: string, record: SealedGrantRecord): Promise<ImportOutcome>;
}

/** The outcome of an import that found the destination's `version` and kept `kept` grants as retired. */
export function skippedAt(version: number, record: SealedGrantRecord, kept: number): ImportOutcome {
  return { imported: false, reason: version > record.version ? 'newer-at-destination' : 'same-version', version, kept };
}

/** Throws `SealError` unless `record` was sealed under `sealedAs`, the name this store opens it under. */
export function checkSealedAs(record: SealedGrantRecord, sealedAs: string): void {
  if (record.sealedAs !== sealedAs) {
    throw new SealError(
      `The grant record is sealed under "${record.sealedAs}" and would not open here, where the key is "${sealedAs}": give both stores the same prefix.`,
    );
  }
}
