/**
 * Webhooks: how many deliveries `verifySamsaraWebhook` checks a second (a typical 1 KiB event and
 * a 16 KiB one, with one secret and with two while rotating), and what `samsaraWebhooks` adds per
 * delivery over a bare Express route that reads the body and answers 204: verification, the
 * claim and its completion in the store (memory, then Redis at 127.0.0.1:6379), the handler's
 * call. The server and a keep-alive client share this process; every delivery has its own
 * eventId, signed before timing starts; the routes take turns, several rounds each.
 * Run: npm run bench -- --only=webhooks (or node build/bench/webhooks.js).
 */
import express from 'express';
import Redis from 'ioredis';
import { Agent, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  MemoryTokenStore,
  RedisTokenStore,
  generateSealingKey,
  samsaraWebhooks,
  verifySamsaraWebhook,
  type TokenStore,
} from 'passport-samsara';
import { signSamsaraWebhook, type SignedSamsaraWebhook } from 'passport-samsara/testing';
import { percentile, runAlone, table } from './stats.js';

export const WEBHOOKS = { verifications: 50_000, deliveries: 3_000, concurrency: [1, 16], rounds: 3 };

const SECRET = Buffer.from('bench webhook secret, 32 bytes..').toString('base64');
const OLD_SECRET = Buffer.from('the secret being rotated out....').toString('base64');

/** A webhooks 2.0 event of about `bytes` bytes. */
function payload(eventId: string, bytes: number): Record<string, unknown> {
  const event = {
    eventId,
    eventTime: new Date().toISOString(),
    eventType: 'VehicleUpdated',
    orgId: 1001,
    webhookId: '1411751028848270',
    data: { vehicle: { id: '494123', name: 'Fleet Truck #1', notes: '' } },
  };
  event.data.vehicle.notes = 'x'.repeat(Math.max(0, bytes - JSON.stringify(event).length));
  return event;
}

export interface VerifyRow extends Record<string, string | number> {
  body: string;
  secrets: number;
  'verifications/s': number;
  'µs each': number;
}

function verifications(bytes: number, secrets: string[], signWith: string): VerifyRow {
  const { body, headers } = signSamsaraWebhook({ payload: payload('bench', bytes), secret: signWith });
  const raw = Buffer.from(body);
  const options = { body: raw, headers, secret: secrets };
  for (let i = 0; i < 2_000; i++) verifySamsaraWebhook(options); // warm-up
  const started = performance.now();
  for (let i = 0; i < WEBHOOKS.verifications; i++) verifySamsaraWebhook(options);
  const seconds = (performance.now() - started) / 1000;
  return {
    body: `${(raw.length / 1024).toFixed(1)} KiB`,
    secrets: secrets.length,
    'verifications/s': Math.round(WEBHOOKS.verifications / seconds),
    'µs each': Number(((seconds * 1e6) / WEBHOOKS.verifications).toFixed(1)),
  };
}

export interface RouteResult {
  route: string;
  concurrency: number;
  'deliveries/s': number;
  p50: number;
  p99: number;
}

/** One pass of `count` deliveries at `concurrency`, all answered 204, their latencies in ms. */
async function load(
  url: URL,
  deliveries: SignedSamsaraWebhook[],
  concurrency: number,
  agent: Agent,
): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < deliveries.length) {
      const { body, headers } = deliveries[next++];
      const started = performance.now();
      const status = await post(url, body, headers, agent);
      latencies.push(performance.now() - started);
      if (status !== 204) throw new Error(`${url.pathname} answered ${status}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return latencies;
}

function post(url: URL, body: string, headers: Record<string, string>, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': Buffer.byteLength(body) }, agent },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface WebhooksResult {
  verify: VerifyRow[];
  routes: RouteResult[];
  /** Per concurrency: the receiver's p50 minus the bare route's, in ms, by store. */
  added: Array<{ concurrency: number; memory: number; redis: number }>;
}

export async function webhooks(): Promise<WebhooksResult> {
  const verify = [
    verifications(1024, [SECRET], SECRET),
    verifications(1024, [SECRET, OLD_SECRET], OLD_SECRET),
    verifications(16 * 1024, [SECRET], SECRET),
  ];

  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await redis.connect();
  const prefix = `bench-webhooks-${process.pid}:`;
  const redisStore = new RedisTokenStore({ client: redis, keys: generateSealingKey('bench'), prefix });
  let handled = 0;
  const receiver = (store: TokenStore): express.RequestHandler =>
    samsaraWebhooks({
      store,
      secrets: SECRET,
      handlers: {
        VehicleUpdated: () => {
          handled++;
        },
      },
    });
  const app = express();
  app.post('/bare', express.raw({ type: '*/*' }), (_req, res) => res.status(204).end());
  app.post('/memory', receiver(new MemoryTokenStore()));
  app.post('/redis', receiver(redisStore));
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = new Agent({ keepAlive: true, maxSockets: Math.max(...WEBHOOKS.concurrency) });

  let serial = 0;
  const signed = (count: number): SignedSamsaraWebhook[] =>
    Array.from({ length: count }, () =>
      signSamsaraWebhook({ payload: payload(`e-${++serial}`, 1024), secret: SECRET }),
    );
  const samples = new Map<string, number[]>();
  const seconds = new Map<string, number>();
  const routes = ['bare', 'memory', 'redis'];
  try {
    for (const concurrency of WEBHOOKS.concurrency) {
      for (const route of routes) await load(new URL(`/${route}`, base), signed(300), concurrency, agent); // warm-up
      for (let round = 0; round < WEBHOOKS.rounds; round++) {
        // Each round in another order, so that a noisy neighbour hits the routes alike.
        for (const route of [...routes.slice(round % 3), ...routes.slice(0, round % 3)]) {
          const key = `${route}:${concurrency}`;
          const deliveries = signed(WEBHOOKS.deliveries);
          const started = performance.now();
          samples.set(key, [
            ...(samples.get(key) ?? []),
            ...(await load(new URL(`/${route}`, base), deliveries, concurrency, agent)),
          ]);
          seconds.set(key, (seconds.get(key) ?? 0) + (performance.now() - started) / 1000);
        }
      }
    }
  } finally {
    agent.destroy();
    server.closeAllConnections();
    server.close();
    for (let cursor = '0'; ;) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      if ((cursor = next) === '0') break;
    }
    await redisStore.close();
    redis.disconnect();
  }
  const median = (key: string): number =>
    percentile(
      [...(samples.get(key) ?? [])].sort((a, b) => a - b),
      50,
    );
  const round2 = (ms: number): number => Math.round(ms * 1000) / 1000;
  const rows: RouteResult[] = WEBHOOKS.concurrency.flatMap((concurrency) =>
    routes.map((route) => {
      const key = `${route}:${concurrency}`;
      const sorted = [...(samples.get(key) ?? [])].sort((a, b) => a - b);
      return {
        route: route === 'bare' ? 'express.raw() + 204' : `samsaraWebhooks (${route} store)`,
        concurrency,
        'deliveries/s': Math.round(sorted.length / (seconds.get(key) ?? 1)),
        p50: round2(percentile(sorted, 50)),
        p99: round2(percentile(sorted, 99)),
      };
    }),
  );
  const added = WEBHOOKS.concurrency.map((concurrency) => ({
    concurrency,
    memory: round2(median(`memory:${concurrency}`) - median(`bare:${concurrency}`)),
    redis: round2(median(`redis:${concurrency}`) - median(`bare:${concurrency}`)),
  }));
  if (handled !== WEBHOOKS.concurrency.length * 2 * (300 + WEBHOOKS.rounds * WEBHOOKS.deliveries)) {
    throw new Error(`the handlers ran ${handled} times`);
  }
  return { verify, routes: rows, added };
}

export function webhooksTables(r: WebhooksResult): string {
  const ms = (row: RouteResult): Record<string, string | number> => ({
    ...row,
    p50: `${row.p50.toFixed(3)} ms`,
    p99: `${row.p99.toFixed(3)} ms`,
  });
  return [
    `### Webhooks: verifySamsaraWebhook, ${String(WEBHOOKS.verifications)} verifications per row`,
    '',
    table(r.verify),
    '',
    `### Webhooks: samsaraWebhooks per delivery, against a bare route, ${String(WEBHOOKS.rounds)} x ${String(WEBHOOKS.deliveries)} deliveries per row (1 KiB events, each its own eventId)`,
    '',
    table(r.routes.map(ms)),
    '',
    ...r.added.map(
      (a) =>
        `What the receiver adds at p50, concurrency ${String(a.concurrency)}: ${a.memory.toFixed(3)} ms (memory store), ${a.redis.toFixed(3)} ms (Redis store: a claim and its completion, two round trips).`,
    ),
  ].join('\n');
}

if (require.main === module) runAlone(webhooks, webhooksTables);
