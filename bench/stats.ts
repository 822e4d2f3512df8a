/** Small helpers for the benchmark scripts: percentiles, aligned tables, running one on its own. */
/**
 * The nearest-rank percentile of `sorted` (ascending): the smallest sample with at least `p` % of
 * them at or below it. The 99th of 100 samples is the second largest, not the largest.
 */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function summarize(samplesMs: number[]): { p50: string; p99: string; max: string } {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const fmt = (v: number): string => `${v.toFixed(v < 1 ? 3 : 1)} ms`;
  return { p50: fmt(percentile(sorted, 50)), p99: fmt(percentile(sorted, 99)), max: fmt(sorted[sorted.length - 1]) };
}

export function table(rows: Array<Record<string, string | number>>): string {
  const headers = Object.keys(rows[0]);
  const widths = headers.map((h) => Math.max(h.length, ...rows.map((r) => String(r[h]).length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [
    line(headers),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map((r) => line(headers.map((h) => String(r[h])))),
  ].join('\n');
}

/** Runs a benchmark on its own (`node build/bench/<name>.js`): prints what it returns, exits 1 on a failure. */
export function runAlone<T>(benchmark: () => Promise<T>, print: (result: T) => unknown = (result) => result): void {
  benchmark().then(
    (result) => {
      console.log(print(result));
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
