/**
 * `npm run bench`: every benchmark, printed as the Markdown that README's Performance section
 * quotes, and the raw figures written to bench/results.json. `--only storm,express` runs some.
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { EXPRESS, expressPath, type ExpressResult } from './express-path.js';
import { hotPath } from './hot-path.js';
import { stampede } from './stampede.js';
import { STORM, storm, stormTables, type StormResult } from './storm.js';
import { table } from './stats.js';

const RESULTS = join(__dirname, '..', '..', 'bench', 'results.json');

function expressTable(r: ExpressResult): string {
  return [
    `### Hot path through Express: express-session (connect-redis) + passport session, ${String(EXPRESS.connections)} connections, autocannon in its own process, ${String(EXPRESS.rounds)} x ${String(EXPRESS.seconds)} s per route`,
    '',
    table(r.rows),
    '',
    `With accessToken() / without: ${r.ratio.toFixed(3)} (target: at least 0.95).`,
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
    storm?: StormResult;
    express?: ExpressResult;
  } = { machine, date: new Date().toISOString(), settings: { storm: STORM, express: EXPRESS } };
  if (wanted('hot')) console.log(`${await hotPath()}\n`);
  if (wanted('stampede')) console.log(`${await stampede()}\n`);
  if (wanted('storm')) {
    raw.storm = await storm();
    console.log(`${stormTables(raw.storm)}\n`);
  }
  if (wanted('express')) {
    raw.express = await expressPath();
    console.log(`${expressTable(raw.express)}\n`);
  }
  writeFileSync(RESULTS, `${JSON.stringify(raw, null, 1)}\n`);
  console.log(`Raw figures: bench/results.json`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
