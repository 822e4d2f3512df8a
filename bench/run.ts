/**
 * `npm run bench`: every benchmark, printed as the Markdown that docs/performance.md
 * quotes; the raw figures go to bench/results.json and the contenders' chart to
 * bench/storm-latency.svg. `--only=storm,express` runs some (hot, wake, stampede, durability, waiting, storm, contenders, express, webhooks, sync, sync-scale).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { latencyChart } from './chart.js';
import { CONTENDERS, contenderStats, contenderTable, contenders, type ContenderResult } from './contenders.js';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { DURABILITY, durability } from './durability.js';
import { EXPRESS, expressPath, type ExpressResult } from './express-path.js';
import { hotPath } from './hot-path.js';
import { WAITING_HEAP, waitingHeap, waitingHeapTable, type WaitingHeapResult } from './waiting-heap.js';
import { wakeUp } from './wake-up.js';
import { stampede } from './stampede.js';
import { STORM, storms, stormsTables, type StormResult } from './storm.js';
import { SYNC_SCALE, syncScale, syncScaleTable, type SyncScaleResult } from './sync-scale.js';
import { SYNC, sync, syncTable, type SyncResult } from './sync.js';
import { table } from './stats.js';
import { WEBHOOKS, webhooks, webhooksTables, type WebhooksResult } from './webhooks.js';

const RESULTS = join(__dirname, '..', '..', 'bench', 'results.json');
const CHART = join(__dirname, '..', '..', 'bench', 'storm-latency.svg');

function expressTable(r: ExpressResult): string {
  return [
    `### Hot path through Express: express-session (connect-redis) + passport session, ${String(EXPRESS.connections)} connections, autocannon in its own process, ${String(EXPRESS.rounds)} x ${String(EXPRESS.seconds)} s per route`,
    '',
    table(r.rows),
    '',
    `With accessToken() / without: ${r.ratio.toFixed(3)} (median of the rounds' ratios), ${r.ratioOfMedians.toFixed(3)} (ratio of the medians); target: at least 0.95. With \`cache: false\`: ${r.uncachedRatio.toFixed(3)}.`,
  ].join('\n');
}

async function main(): Promise<void> {
  const only = process.argv
    .find((a) => a.startsWith('--only='))
    ?.slice('--only='.length)
    .split(',');
  const wanted = (name: string): boolean => !only || only.includes(name);
  const machine = `Node ${process.version}, ${String(cpus().length)} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  console.log(`${machine}\n`);
  const raw: {
    machine: string;
    date: string;
    settings: unknown;
    /** The warm storm on Redis. */
    storm?: StormResult;
    /** The same storm on Postgres. */
    stormPostgres?: StormResult;
    express?: ExpressResult;
    contenders?: ContenderResult[];
    webhooks?: WebhooksResult;
    sync?: SyncResult[];
    syncScale?: SyncScaleResult;
    waitingHeap?: WaitingHeapResult;
  } = {
    machine,
    date: new Date().toISOString(),
    settings: {
      storm: STORM,
      contenders: CONTENDERS,
      express: EXPRESS,
      webhooks: WEBHOOKS,
      durability: DURABILITY,
      sync: SYNC,
      syncScale: SYNC_SCALE,
      waitingHeap: WAITING_HEAP,
    },
  };
  if (wanted('hot')) console.log(`${await hotPath()}\n`);
  if (wanted('wake')) console.log(`${await wakeUp()}\n`);
  if (wanted('stampede')) console.log(`${await stampede()}\n`);
  if (wanted('durability')) console.log(`${await durability()}\n`);
  if (wanted('waiting')) {
    raw.waitingHeap = await waitingHeap();
    console.log(`${waitingHeapTable(raw.waitingHeap)}\n`);
  }
  if (wanted('storm')) {
    const both = await storms();
    raw.storm = both.redis;
    raw.stormPostgres = both.postgres;
    console.log(`${stormsTables(both)}\n`);
  }
  if (wanted('contenders')) {
    raw.contenders = await contenders();
    console.log(`${contenderTable(raw.contenders)}\n`);
    writeFileSync(
      CHART,
      latencyChart(
        `Warm storm: ${String(CONTENDERS.workers)} processes x ${String(CONTENDERS.perWorker)} calls, token just expired`,
        raw.contenders.map((r) => ({ label: r.contender, ...contenderStats(r) })),
      ),
    );
    console.log('Chart: bench/storm-latency.svg\n');
  }
  if (wanted('express')) {
    raw.express = await expressPath();
    console.log(`${expressTable(raw.express)}\n`);
  }
  if (wanted('webhooks')) {
    raw.webhooks = await webhooks();
    console.log(`${webhooksTables(raw.webhooks)}\n`);
  }
  if (wanted('sync')) {
    raw.sync = await sync();
    console.log(`${syncTable(raw.sync)}\n`);
  }
  if (wanted('sync-scale')) {
    raw.syncScale = await syncScale();
    console.log(`${syncScaleTable(raw.syncScale)}\n`);
  }
  // Raw samples, to 0.01 ms.
  const rounded = (_key: string, v: unknown): unknown =>
    typeof v === 'number' && !Number.isInteger(v) ? Math.round(v * 100) / 100 : v;
  // With --only, the other benchmarks' last figures stay.
  const previous = only && existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as object) : {};
  // Written as the repository's Prettier would, so that format:check passes on a committed run.
  const options = (await resolveConfig(RESULTS)) ?? {};
  writeFileSync(
    RESULTS,
    await format(JSON.stringify({ ...previous, ...raw }, rounded), { ...options, parser: 'json' }),
  );
  console.log(`Raw figures: bench/results.json`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
