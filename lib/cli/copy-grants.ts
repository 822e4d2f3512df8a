import type { SealedStore } from '../tokens/sealed-record.js';

/** Why a key was not copied. */
export type SkipReason = 'newer-at-destination' | 'same-version' | 'gone';

/**
 * What {@link copyGrants} did: keys read, copied (current grants and tombstones apart), skipped
 * by reason (with the keys), and the keys that failed with their error code.
 *
 * @example
 * ```ts
 * const report = await copyGrants(from, to);
 * if (report.failed.length) process.exitCode = 1;
 * ```
 */
export interface CopyReport {
  read: number;
  /** Keys whose record was written, a current grant or (see `tombstones`) a tombstone. */
  copied: number;
  /** Of `copied`, the keys that hold no current grant (signed out, found dead). */
  tombstones: number;
  /** Of `copied`, the retired grants they carried. */
  retired: number;
  /** Grants of skipped keys that the destination did not hold, kept there as retired. */
  kept: number;
  skipped: Record<SkipReason, string[]>;
  failed: { key: string; code: string }[];
}

/**
 * Options of {@link copyGrants}.
 *
 * @example
 * ```ts
 * await copyGrants(from, to, { concurrency: 8, onProgress: (r) => console.error(r.read) });
 * ```
 */
export interface CopyOptions {
  /** Keys copied at once. Default 16. */
  concurrency?: number;
  /** Called after every `progressEvery` keys, and at the end. */
  onProgress?(report: CopyReport): void;
  /** Default 500. */
  progressEvery?: number;
}

/**
 * Copies every key of `from` to `to`, as sealed (no sealing key used): each key's record is read
 * in one step and written in one step only over an older version, so a write the destination
 * took meanwhile (a refresh) wins, and a second run copies nothing new. A key that fails is
 * reported, not retried; the others go on.
 *
 * @example
 * ```ts
 * const report = await copyGrants(redisStore, postgresStore);
 * ```
 */
export async function copyGrants(from: SealedStore, to: SealedStore, options: CopyOptions = {}): Promise<CopyReport> {
  const report: CopyReport = {
    read: 0,
    copied: 0,
    tombstones: 0,
    retired: 0,
    kept: 0,
    skipped: { 'newer-at-destination': [], 'same-version': [], gone: [] },
    failed: [],
  };
  const concurrency = options.concurrency ?? 16;
  const every = options.progressEvery ?? 500;
  const copyOne = async (key: string): Promise<void> => {
    try {
      const record = await from.exportSealed(key);
      if (!record) {
        report.skipped.gone.push(key);
        return;
      }
      const outcome = await to.importSealed(key, record);
      if (!outcome.imported) {
        report.skipped[outcome.reason].push(key);
        report.kept += outcome.kept;
        return;
      }
      report.copied += 1;
      report.retired += record.retired.length;
      if (!record.current) report.tombstones += 1;
    } catch (err) {
      report.failed.push({ key, code: (err as { code?: string }).code ?? (err as Error).name });
    } finally {
      report.read += 1;
      if (report.read % every === 0) options.onProgress?.(report);
    }
  };
  const batch: string[] = [];
  for await (const key of from.sealedKeys()) {
    batch.push(key);
    if (batch.length >= concurrency) await Promise.all(batch.splice(0).map(copyOne));
  }
  await Promise.all(batch.map(copyOne));
  options.onProgress?.(report);
  return report;
}

/** The report as lines for an operator: totals, then each reason with its keys (at most `shown`). */
export function describeReport(report: CopyReport, shown = 20): string[] {
  const lines = [
    `copied ${report.copied} of ${report.read} keys (${report.tombstones} tombstones, ${report.retired} retired grants)`,
  ];
  if (report.kept) {
    lines.push(`kept ${report.kept} grants of skipped keys at the destination as retired (it did not hold them)`);
  }
  const why: Record<SkipReason, string> = {
    'newer-at-destination': 'the destination holds a newer version (a write there came first)',
    'same-version': 'the destination holds this version already (copied before)',
    gone: 'gone from the source before it was read',
  };
  for (const reason of Object.keys(why) as SkipReason[]) {
    const keys = report.skipped[reason];
    if (keys.length) lines.push(`skipped ${keys.length} (${reason}: ${why[reason]}): ${listed(keys, shown)}`);
  }
  if (report.failed.length) {
    lines.push(
      `failed ${report.failed.length}: ${listed(
        report.failed.map((f) => `${f.key} (${f.code})`),
        shown,
      )}`,
    );
  }
  return lines;
}

function listed(items: string[], shown: number): string {
  return items.length > shown
    ? `${items.slice(0, shown).join(', ')}, and ${items.length - shown} more`
    : items.join(', ');
}
