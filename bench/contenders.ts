/**
 * Contenders side by side, in one run: the warm storm (4 processes x 250 concurrent calls, token
 * just expired, 50 ms token endpoint, Redis at 127.0.0.1:6379) against an emulator whose reuse
 * detection revokes a grant whose rotated-out refresh token comes back, as OAuth 2.1 advises.
 * This package; Samsara's recipe (a per-process mutex, waiters sleep 0.5 s); and the naive way
 * (every call that sees an expired token refreshes it itself).
 */
import { startFleet } from './fleet.js';
import { percentile, table, runAlone } from './stats.js';
import type { WorkerConfig } from './worker.js';

export const CONTENDERS = { workers: 4, perWorker: 250, rounds: 3, latency: 50, revokeOnReuse: true };

export interface ContenderResult {
  contender: string;
  refreshCalls: number;
  invalidGrant: number;
  failed: number;
  requests: number;
  grantsSurvived: number;
  latencies: number[];
}

const NAMES: Record<NonNullable<WorkerConfig['mode']>, string> = {
  manager: 'passport-samsara (Redis lock)',
  recipe: 'recipe (per-process lock, 0.5 s busy-wait)',
  naive: 'naive (each caller refreshes)',
};

async function contender(mode: NonNullable<WorkerConfig['mode']>): Promise<ContenderResult> {
  const { emulator, store, workers, seed, warmUp, stop } = await startFleet({
    workers: CONTENDERS.workers,
    emulator: { latency: CONTENDERS.latency, revokeOnReuse: CONTENDERS.revokeOnReuse },
    worker: { mode },
  });
  const result: ContenderResult = {
    contender: NAMES[mode],
    refreshCalls: 0,
    invalidGrant: 0,
    failed: 0,
    requests: 0,
    grantsSurvived: 0,
    latencies: [],
  };
  try {
    await warmUp(CONTENDERS.perWorker);
    emulator.resetCounters();
    for (let round = 0; round < CONTENDERS.rounds; round++) {
      await seed(-1_000);
      const bursts = await Promise.all(workers.map((w) => w.timed('1001', CONTENDERS.perWorker)));
      for (const burst of bursts) {
        result.latencies.push(...burst.latencies);
        result.failed += burst.failed;
        result.requests += CONTENDERS.perWorker;
      }
      const stored = await store.get('1001');
      if (stored && emulator.grantStatus(stored.refreshToken) === 'active') result.grantsSurvived++;
    }
    result.refreshCalls = emulator.counters.grants.refresh_token;
    result.invalidGrant = emulator.counters.invalidGrant;
  } finally {
    await stop();
  }
  return result;
}

export async function contenders(): Promise<ContenderResult[]> {
  const results: ContenderResult[] = [];
  for (const mode of ['manager', 'recipe', 'naive'] as const) results.push(await contender(mode));
  return results;
}

export function contenderStats(r: ContenderResult): { p50: number; p99: number; max: number } {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN };
}

export function contenderTable(results: ContenderResult[]): string {
  const ms = (v: number): string => (Number.isNaN(v) ? '-' : `${v.toFixed(1)} ms`);
  return [
    `### Contenders: ${String(CONTENDERS.workers)} processes x ${String(CONTENDERS.perWorker)} concurrent calls, token just expired, ${String(CONTENDERS.rounds)} rounds, reuse of a refresh token revokes the grant`,
    '',
    table(
      results.map((r) => {
        const s = contenderStats(r);
        return {
          contender: r.contender,
          'token-endpoint calls': r.refreshCalls,
          invalid_grant: r.invalidGrant,
          'failed requests': `${String(r.failed)} / ${String(r.requests)}`,
          p50: ms(s.p50),
          p99: ms(s.p99),
          max: ms(s.max),
          'grant survived': `${String(r.grantsSurvived)} / ${String(CONTENDERS.rounds)}`,
        };
      }),
    ),
    '',
    'Latencies are of the calls that succeeded.',
  ].join('\n');
}

if (require.main === module) runAlone(contenders, contenderTable);
