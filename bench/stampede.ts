/**
 * A refresh stampede: an organization's token has expired and 4 processes x 100 concurrent
 * requests want it at once, against the emulator (50 ms latency, single-use refresh tokens, with
 * and without reuse detection) and Redis at 127.0.0.1:6379. Our lock against a fleet that locks
 * per process only (Samsara's recipe; the manager's other defences still on); and, in one process,
 * our single-flight against the recipe's mutex with a 0.5 s busy-wait.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryTokenStore, OAuthClient, TokenManager, type GrantTokens } from 'passport-samsara';
import { startSamsaraEmulator } from 'passport-samsara/testing';
import { summarize, table, runAlone } from './stats.js';
import { seedGrant, startFleet } from './fleet.js';

const ROUNDS = 5;
const WORKERS = 4;
const PER_WORKER = 100;

async function fleet(unlocked: boolean, revokeOnReuse: boolean): Promise<Record<string, string | number>> {
  const { emulator, store, workers, seed, stop } = await startFleet({
    workers: WORKERS,
    emulator: { latency: 50, revokeOnReuse },
    worker: { unlocked },
  });
  const walls: number[] = [];
  let failed = 0;
  let grantsLost = 0;
  for (let round = 0; round < ROUNDS; round++) {
    await seed(-1_000);
    const started = performance.now();
    const failures = await Promise.all(workers.map((w) => w.burst('1001', PER_WORKER)));
    walls.push(performance.now() - started);
    failed += failures.reduce((sum, n) => sum + n, 0);
    const stored = await store.get('1001');
    if (!stored || emulator.grantStatus(stored.refreshToken) !== 'active') grantsLost++;
  }
  const row = {
    fleet: unlocked ? 'per-process lock (recipe)' : 'Redis lock (passport-samsara)',
    'reuse revokes the grant': revokeOnReuse ? 'yes' : 'no',
    'refresh calls / round': (emulator.counters.grants.refresh_token / ROUNDS).toFixed(1),
    invalid_grant: emulator.counters.invalidGrant,
    'requests failed': `${failed} / ${ROUNDS * WORKERS * PER_WORKER}`,
    'grants lost': `${grantsLost} / ${ROUNDS}`,
    'wall p50': summarize(walls).p50,
  };
  await stop();
  return row;
}

/** Samsara's recipe, in one process: a mutex, and callers that find it held sleep 0.5 s and look again. */
async function recipe(client: OAuthClient, creds: GrantTokens, callers: number): Promise<number[]> {
  let locked = false;
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: callers }, async () => {
      const t = performance.now();
      while (locked) await sleep(500);
      if (creds.expiresAt <= Date.now()) {
        locked = true;
        const set = await client.refresh(creds.refreshToken);
        Object.assign(creds, {
          accessToken: set.accessToken,
          refreshToken: set.refreshToken,
          expiresAt: set.expiresAt,
        });
        locked = false;
      }
      latencies.push(performance.now() - t);
    }),
  );
  return latencies;
}

async function oneProcess(): Promise<Array<Record<string, string | number>>> {
  const emulator = await startSamsaraEmulator({ latency: 50 });
  const client = new OAuthClient({
    clientID: emulator.clientID,
    clientSecret: emulator.clientSecret,
    baseURL: emulator.baseURL,
  });
  const rows: Array<Record<string, string | number>> = [];
  for (const [name, run] of [
    [
      'recipe: mutex + 0.5 s busy-wait',
      async () => {
        const grant = emulator.issueGrant('1001');
        return recipe(
          client,
          { accessToken: grant.accessToken, refreshToken: grant.refreshToken, expiresAt: Date.now() - 1 },
          100,
        );
      },
    ],
    [
      'passport-samsara: single-flight',
      async () => {
        const manager = new TokenManager({ store: new MemoryTokenStore(), client });
        await seedGrant(emulator, manager, -1_000);
        return Promise.all(
          Array.from({ length: 100 }, async () => {
            const t = performance.now();
            await manager.accessToken('1001');
            return performance.now() - t;
          }),
        );
      },
    ],
  ] as const) {
    emulator.resetCounters();
    const latencies = await run();
    rows.push({
      'one process, 100 callers': name,
      'refresh calls': emulator.counters.grants.refresh_token,
      ...summarize(latencies),
    });
  }
  await emulator.stop();
  return rows;
}

export async function stampede(): Promise<string> {
  const fleetRows = [
    await fleet(false, false),
    await fleet(true, false),
    await fleet(false, true),
    await fleet(true, true),
  ];
  return [
    `### Refresh stampede: ${WORKERS} processes x ${PER_WORKER} concurrent requests, expired token, ${ROUNDS} rounds`,
    '',
    table(fleetRows),
    '',
    table(await oneProcess()),
  ].join('\n');
}

if (require.main === module) runAlone(stampede);
