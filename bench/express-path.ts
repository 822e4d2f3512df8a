/**
 * The hot path through a real stack: an Express route behind express-session (connect-redis) and
 * a passport session, with and without `await req.samsara.accessToken()` on a RedisTokenStore, the
 * credential cache on (the default) and off. The server is one process, autocannon another (its
 * CLI), 50 connections, on loopback; the routes are loaded in turn, several rounds each, each round
 * in another order; a ratio is the median of each round's ratio (the runs of a round are seconds
 * apart, so a noisy neighbour hits them alike).
 */
import { execFile, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { RedisTokenStore, TokenManager, generateSealingKey } from 'passport-samsara';
import type { ExpressServerConfig } from './express-server.js';
import { runAlone } from './stats.js';

const run = promisify(execFile);

export const EXPRESS = { connections: 50, seconds: 3, rounds: 6 };

interface Load {
  'req/s': number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

async function load(url: string, cookie: string): Promise<Load> {
  const { stdout } = await run(
    process.execPath,
    [
      require.resolve('autocannon/autocannon.js'),
      '-c',
      String(EXPRESS.connections),
      '-d',
      String(EXPRESS.seconds),
      '-j',
      '-H',
      `cookie:${cookie}`,
      url,
    ],
    { timeout: (EXPRESS.seconds + 30) * 1000, maxBuffer: 16 * 1024 * 1024 },
  );
  const result = JSON.parse(stdout) as AutocannonResult;
  return {
    'req/s': Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export interface ExpressResult {
  rows: Array<Record<string, string | number>>;
  /** The median of each round's with/without ratio (the cache on). */
  ratio: number;
  /** Median req/s with, over median req/s without (the cache on). */
  ratioOfMedians: number;
  /** The median of each round's with/without ratio, the cache off. */
  uncachedRatio: number;
}

export async function expressPath(): Promise<ExpressResult> {
  const keys = generateSealingKey('bench');
  const prefix = `bench-${randomUUID().slice(0, 8)}:`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const store = new RedisTokenStore({ client: redis, keys, prefix });
  const tokens = new TokenManager({
    store,
    client: { clientID: 'bench', clientSecret: 'bench', baseURL: 'http://127.0.0.1:9' },
  });
  await tokens.connect('1001', {
    accessToken: 'a'.repeat(43),
    refreshToken: 'r'.repeat(43),
    expiresAt: Date.now() + 3600_000,
  });
  const child = fork(
    require.resolve('./express-server.js'),
    [JSON.stringify({ prefix, keys } satisfies ExpressServerConfig)],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: { port: number }) => {
        resolve(m.port);
      });
      child.once('exit', (code) => {
        reject(new Error(`express server exited with ${String(code)}`));
      });
    });
    const base = `http://127.0.0.1:${String(port)}`;
    const login = await fetch(`${base}/login`);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const routes = { plain: [] as Load[], token: [] as Load[], uncached: [] as Load[] };
    const names = Object.keys(routes) as (keyof typeof routes)[];
    // Warm-up: JIT, connections, Redis.
    for (const route of names) await load(`${base}/${route}`, cookie);
    for (let round = 0; round < EXPRESS.rounds; round++) {
      // Rotate which route goes first, so none always runs on the warmer machine.
      const order = names.map((_, i) => names[(i + round) % names.length]);
      for (const route of order) routes[route].push(await load(`${base}/${route}`, cookie));
    }
    const row = (route: string, loads: Load[]): Record<string, string | number> => ({
      route,
      'req/s (median)': median(loads.map((l) => l['req/s'])),
      'req/s (rounds)': loads.map((l) => l['req/s']).join(', '),
      'p50 ms': median(loads.map((l) => l.p50)),
      'p99 ms': median(loads.map((l) => l.p99)),
      'errors + non-2xx': loads.reduce((sum, l) => sum + l.errors + l.non2xx, 0),
    });
    const plain = row('session only', routes.plain);
    const token = row('session + accessToken() (cache on, the default)', routes.token);
    const uncached = row('session + accessToken() (cache: false)', routes.uncached);
    const ratioOf = (loads: Load[]): number => median(loads.map((t, i) => t['req/s'] / routes.plain[i]['req/s']));
    const ratioOfMedians = Number(token['req/s (median)']) / Number(plain['req/s (median)']);
    return {
      rows: [plain, token, uncached],
      ratio: ratioOf(routes.token),
      ratioOfMedians,
      uncachedRatio: ratioOf(routes.uncached),
    };
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.connected) child.disconnect();
    await exited;
    const leftovers = await redis.keys(`${prefix}*`);
    if (leftovers.length > 0) await redis.del(...leftovers);
    await store.close();
    redis.disconnect();
  }
}

if (require.main === module) runAlone(expressPath);
