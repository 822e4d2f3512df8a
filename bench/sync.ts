/**
 * `npm run bench -- --only=sync`: 4 processes sync 20 organizations against the emulator's
 * limits (150/s per token, 200/s per organization, 25/s on GET /fleet/vehicles), side by side:
 * the official SDK alone, `forOrg` without the shared limiter, and `forOrg` with it. Every process
 * syncs every organization (four jobs, or four replicas, over the same customers), so each
 * organization's budget is shared by four pagers.
 *
 * The limit is Samsara's 5/s tier (`SYNC_LIMIT`, default 5), set on the emulator's vehicles
 * endpoint and in the limiter alike: 20 organizations at the legacy 25/s would ask 500 requests/s
 * of the machine, more than a 2-core box serves (about 190/s in all, measured), and the run would
 * measure the CPU instead of the limits. `SYNC_VEHICLES` scales the fleets (default 2 000, so
 * that a run stays within a couple of minutes; 5 000 takes 2.5 times as long).
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus, getPriority, loadavg, setPriority } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { PostgresTokenStore, RedisTokenStore, TokenManager, generateSealingKey } from 'passport-samsara';
import { startSamsaraEmulator } from 'passport-samsara/testing';
import { Pool } from 'pg';
import { table } from './stats.js';
import type { SyncMode, SyncWorkerConfig, WorkerReport } from './sync-worker.js';

export const SYNC = {
  processes: 4,
  organizations: Number(process.env.SYNC_ORGS ?? 20),
  vehicles: Number(process.env.SYNC_VEHICLES ?? 2_000),
  page: 100,
  limit: Number(process.env.SYNC_LIMIT ?? 5),
  utilization: process.env.SYNC_UTILIZATION === undefined ? undefined : Number(process.env.SYNC_UTILIZATION),
};

export interface SyncResult {
  contender: string;
  /** Median over organizations of (successful requests / the organization's sync time) / 25. */
  fractionOfLimit: number;
  rateLimited: number;
  /** The emulator's 429s by the window that refused them. */
  rateLimitedBy: Record<string, number>;
  requests: number;
  seconds: number;
  failedSyncs: number;
  /** The emulator's event-loop delay, p99, ms: how late it may read its clock for a request. */
  emulatorLagP99: number;
  /** Its longest stall, ms: a p99 of 10 ms samples hides a few stalls past the limiter's margin. */
  emulatorLagMax: number;
  /** The workers' event-loop delay, p99, ms, the worst of the four: how late one may send. */
  workerLagP99: number;
  /** Their longest stall, ms. */
  workerLagMax: number;
  /** The emulator's maps after the run (its memory). */
  stored: Record<string, number>;
}

const NAMES: Record<SyncMode, string> = {
  sdk: 'official SDK alone (its own retries)',
  unlimited: 'forOrg, no shared limiter',
  limited: 'forOrg + fleet-wide limiter (Redis)',
  postgres: 'forOrg + fleet-wide limiter (Postgres)',
};

// The emulator stands for Samsara, which does not share the fleet's CPU: the workers run this many
// steps of niceness below this process (the emulator's), so that a busy worker does not stall the
// clock that counts its requests. Without it the run measures the bench machine's scheduler.
const WORKER_NICENESS = 10;

function runWorker(config: SyncWorkerConfig): { ready: Promise<void>; go(): void; done: Promise<WorkerReport> } {
  const child = fork(require.resolve('./sync-worker.js'), [JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (child.pid !== undefined) setPriority(child.pid, Math.min(19, getPriority() + WORKER_NICENESS));
  let ready!: () => void;
  const readyP = new Promise<void>((resolve) => (ready = resolve));
  const done = new Promise<WorkerReport>((resolve, reject) => {
    child.on('message', (m: { ready: true } | WorkerReport) => {
      if ('ready' in m) ready();
      else resolve(m);
    });
    child.once('exit', (code) => reject(new Error(`sync worker exited with ${code}`)));
  });
  return { ready: readyP, go: () => child.send('go'), done };
}

async function contender(mode: SyncMode): Promise<SyncResult> {
  const orgIds = Array.from({ length: SYNC.organizations }, (_, i) => String(5001 + i));
  const emulator = await startSamsaraEmulator({
    organizations: orgIds.map((id) => ({ id, name: `Fleet ${id}`, vehicleCount: SYNC.vehicles })),
    vehiclesRateLimit: SYNC.limit,
  });
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const pool = new Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', max: 4 });
  const prefix = `bench-sync-${randomUUID()}:`;
  const schema = `bench_sync_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const keys = generateSealingKey('bench');
  const store =
    mode === 'postgres'
      ? new PostgresTokenStore({ pool, keys, prefix, schema })
      : new RedisTokenStore({ client: redis, keys, prefix });
  const client = { clientID: emulator.clientID, clientSecret: emulator.clientSecret, baseURL: emulator.baseURL };
  const tokens = new TokenManager({ store, client });
  for (const orgId of orgIds) {
    const grant = emulator.issueGrant(orgId);
    await tokens.connect(orgId, { ...grant, expiresAt: Date.now() + 3_600_000 });
    // The emulator builds an organization's fleet at its first page: 20 fleets built at the start
    // stalled it for 0.7 s, and every organization's next requests then arrived at once (2 or 3
    // 429s each, whatever the utilization). Samsara has its fleets already: built here, untimed.
    await (
      await fetch(`${emulator.baseURL}/fleet/vehicles?limit=1`, {
        headers: { authorization: `Bearer ${grant.accessToken}` },
      })
    ).text();
  }
  try {
    const config: SyncWorkerConfig = {
      mode,
      prefix,
      schema,
      keys,
      emulator: client,
      orgIds,
      page: SYNC.page,
      limit: SYNC.limit,
      ...(SYNC.utilization !== undefined && { utilization: SYNC.utilization }),
    };
    const workers = Array.from({ length: SYNC.processes }, () => runWorker(config));
    await Promise.all(workers.map((w) => w.ready));
    await sleep(1_100); // the warm-ups' windows empty
    emulator.resetCounters();
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const started = Date.now();
    for (const w of workers) w.go();
    const reports = await Promise.all(workers.map((w) => w.done));
    const runs = reports.flatMap((r) => r.runs);
    const seconds = (Date.now() - started) / 1000;
    lag.disable();
    const pages = Math.ceil(SYNC.vehicles / SYNC.page);
    const fractions = orgIds.map((orgId) => {
      const mine = runs.filter((r) => r.orgId === orgId);
      const span = (Math.max(...mine.map((r) => r.end)) - Math.min(...mine.map((r) => r.start))) / 1000;
      const ok = mine.reduce((n, r) => n + (r.failed ? Math.floor(r.vehicles / SYNC.page) : pages), 0);
      return ok / span / SYNC.limit;
    });
    fractions.sort((a, b) => a - b);
    return {
      contender: NAMES[mode],
      fractionOfLimit: fractions[Math.floor(fractions.length / 2)],
      rateLimited: emulator.counters.rateLimited,
      rateLimitedBy: { ...emulator.counters.rateLimitedBy },
      requests: emulator.counters.apiCalls,
      seconds,
      failedSyncs: runs.filter((r) => r.failed).length,
      stored: { ...emulator.stored() },
      emulatorLagP99: lag.percentile(99) / 1e6,
      emulatorLagMax: lag.max / 1e6,
      workerLagP99: Math.max(...reports.map((r) => r.lagP99)),
      workerLagMax: Math.max(...reports.map((r) => r.lagMax)),
    };
  } finally {
    await store.close();
    const stale = await redis.keys(`${prefix}*`);
    if (stale.length > 0) await redis.del(...stale);
    redis.disconnect();
    if (mode === 'postgres') await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
    await emulator.stop();
  }
}

export async function sync(): Promise<SyncResult[]> {
  const results: SyncResult[] = [];
  // SYNC_CONTENDERS=limited,postgres runs some of them.
  const modes = ['sdk', 'unlimited', 'limited', 'postgres'] as const;
  const chosen = process.env.SYNC_CONTENDERS?.split(',') ?? modes;
  for (const mode of modes) if (chosen.includes(mode)) results.push(await contender(mode));
  return results;
}

export function syncTable(results: SyncResult[]): string {
  const { processes, organizations, vehicles, page, limit } = SYNC;
  return [
    `### Sync at Samsara's limits: ${processes} processes x ${organizations} organizations x ${vehicles} vehicles (pages of ${page}), each organization's ${limit}/s on GET /fleet/vehicles (emulator and limiter) shared by the ${processes}`,
    '',
    table(
      results.map((r) => ({
        contender: r.contender,
        'req/s per org, of the limit (median)': r.fractionOfLimit.toFixed(3),
        '429s received': String(r.rateLimited),
        'time to finish (s)': r.seconds.toFixed(1),
        'requests wasted on 429s': `${r.rateLimited} of ${r.requests} (${((100 * r.rateLimited) / Math.max(1, r.requests)).toFixed(1)} %)`,
        'syncs failed': `${r.failedSyncs} of ${processes * organizations}`,
        'event-loop delay p99 / max, emulator; workers (ms)': `${r.emulatorLagP99.toFixed(0)} / ${r.emulatorLagMax.toFixed(0)}; ${r.workerLagP99.toFixed(0)} / ${r.workerLagMax.toFixed(0)}`,
      })),
    ),
    '',
    `Goal: at least 0.9 of the limit with 0 429s. Utilization ${SYNC.utilization ?? 'default'}; workers at niceness +${WORKER_NICENESS} below the emulator. Load average when it ended: ${loadavg()[0].toFixed(1)} on ${cpus().length} cores. Emulator's maps after the last run: ${JSON.stringify(results.at(-1)?.stored ?? {})}.`,
  ].join('\n');
}
