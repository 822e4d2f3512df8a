import { expect } from 'chai';
import fc from 'fast-check';
import type Redis from 'ioredis';
import type { PoolClient } from 'pg';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  PostgresTokenStore,
  RedisTokenStore,
  SAMSARA_CHANNELS,
  TokenManager,
  generateSealingKey,
  type GrantTokens,
  type ReauthorizeEvent,
  type RevocationScope,
} from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf } from './support/grants.js';
import { pool, startPostgres, type PostgresServer } from './support/postgres.js';
import { cli, connect, startRedis, until, type RedisServer } from './support/redis.js';
import { replicateThrough, startHoldingProxy, type HoldingProxy } from './support/replication.js';

// A model-based test of the grant invariant (README, "Every grant accounted for"): random
// sequences of sign-ins, refused sign-ins, refresh storms, Disconnects, lost refresh responses,
// paused late writers and store outages, run by two token managers (two processes' worth: each its
// own connection and store) over one real store and the emulator, under both readings of what a
// revoke reaches, on Redis (a primary and its replica: restarts without persistence, failovers
// after a refresh storm) and on Postgres (a server of the test's own, restarted mid-refresh). After every step, once everything is quiet, the invariant is
// checked against the emulator's own record of which grants are live.

const KEY = '1001';
const keys = generateSealingKey('kmodel');
const STORE_TIMEOUT = 300;
const TOKEN_TIMEOUT = 250;
const LOCK_TTL = 1_300;

/** A store whose writes a test can hold back: a process that paused (a GC, a frozen VM) mid-refresh. */
type PausableStore = (RedisTokenStore | PostgresTokenStore) & { gate: Promise<void> | undefined };

function pausable(store: RedisTokenStore | PostgresTokenStore): PausableStore {
  const held = Object.assign(store, { gate: undefined as Promise<void> | undefined });
  const update = store.update.bind(store);
  held.update = async (...args) => {
    if (held.gate) await held.gate;
    return update(...args);
  };
  return held;
}

/** The store's server, as the steps drive it. */
interface Backend {
  name: 'Redis' | 'Postgres';
  /** Two stores (two processes' worth) for run `run`, each on its own connection. */
  stores(run: string): PausableStore[];
  /** The store answers nothing until `resume()` (a frozen Redis; a Postgres whose tables are locked). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Readies a run's stores before its first step (Redis: a durable write on each connection). */
  ready(stores: PausableStore[]): Promise<void>;
  /** The steps that take the server down: a restart, a failover. */
  faults: Step[];
}

interface Real {
  emulator: SamsaraEmulator;
  backend: Backend;
  stores: [PausableStore, PausableStore];
  managers: [TokenManager, TokenManager];
  scope: RevocationScope;
}

interface Model {
  /** Every grant the app received (the emulator's grant id -> its first refresh token). */
  held: Map<string, string>;
  /** Grants whose refresh response was lost in transit: live at Samsara, held by nobody. */
  lost: Set<string>;
  /** Grants the app held when a Disconnect succeeded: each must be revoked. */
  disconnected: Set<string>;
}

type Step = fc.AsyncCommand<Model, Real>;

function issue(real: Real, model: Model, expired = false): GrantTokens {
  const grant = real.emulator.issueGrant(KEY);
  model.held.set(real.emulator.grantId(grant.refreshToken)!, grant.refreshToken);
  return { ...grant, expiresAt: Date.now() + (expired ? -1_000 : 3600_000) };
}

async function current(real: Real) {
  return real.stores[0].get(KEY);
}

/** Everything settles: faults cleared, the store answering, background work done. */
async function quiesce(real: Real): Promise<void> {
  real.emulator.clearFaults();
  await Promise.all(real.managers.map((manager) => manager.idle()));
}

async function works(real: Real, accessToken: string): Promise<boolean> {
  const res = await fetch(`${real.emulator.baseURL}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  await res.body?.cancel();
  return res.status === 200;
}

/** The invariant, read from the store and from the emulator. */
async function checkInvariant(real: Real, model: Model, step: string): Promise<void> {
  const stored = await current(real);
  const retired = await real.stores[0].retired(KEY);
  const revoked = (refreshToken: string): boolean => real.emulator.grantStatus(refreshToken) === 'revoked';
  for (const grant of [...(stored ? [stored] : []), ...retired]) {
    expect(revoked(grant.refreshToken), `${step}: a grant the app keeps was revoked`).to.equal(false);
  }
  if (stored) expect(await works(real, stored.accessToken), `${step}: the stored access token works`).to.equal(true);
  for (const grant of model.disconnected) {
    if (model.lost.has(grant)) continue;
    expect(revoked(model.held.get(grant)!), `${step}: a grant held before a Disconnect is still live`).to.equal(true);
  }
  if (real.scope === 'grant') {
    const liveLost = [...model.lost].filter((grant) => !revoked(model.held.get(grant)!)).length;
    expect(real.emulator.activeGrants(KEY) - liveLost, `${step}: live grants under per-grant revocation`).to.equal(
      stored ? 1 : 0,
    );
    expect(retired, `${step}: retired grants under per-grant revocation`).to.deep.equal([]);
  }
}

/** A step: its action, then quiet, then the invariant. */
function step(name: string, action: (model: Model, real: Real) => Promise<void>, needsGrant = false): Step {
  return {
    check: () => true,
    async run(model, real) {
      if (needsGrant && !(await current(real))) return;
      await action(model, real);
      await quiesce(real);
      await checkInvariant(real, model, name);
    },
    toString: () => name,
  };
}

const settle = <T>(promise: Promise<T>): Promise<T | Error> => promise.catch((err: unknown) => err as Error);

/**
 * Process `m` refreshes a token the API rejected; Samsara answers, and the process pauses before
 * its write until `resume()`, which then awaits the refresh's end.
 */
async function refreshPausedBeforeWrite(
  real: Real,
  m: 0 | 1,
  rejected: string,
): Promise<{ resume(): Promise<unknown> }> {
  let release!: () => void;
  real.stores[m].gate = new Promise((resolve) => (release = resolve));
  const issued = real.emulator.counters.tokensIssued;
  const refreshing = settle(real.managers[m].accessToken(KEY, { rejected }));
  while (real.emulator.counters.tokensIssued === issued) await sleep(5);
  return {
    resume: () => {
      real.stores[m].gate = undefined;
      release();
      return refreshing;
    },
  };
}

/**
 * A primary and its replica, swapped by a failover. The processes reach the primary through
 * `front` (what a Sentinel-aware client or a DNS name does for them); the replica reaches it
 * through `link`, which can hold the replication stream back.
 */
interface Topology {
  primary: RedisServer;
  replica: RedisServer;
  front: HoldingProxy;
  link: HoldingProxy;
}

/**
 * Waits until the replica is in sync with the primary again (after a restart, a failover), and
 * streaming: after a full sync the primary streams nothing to it until its first acknowledgement,
 * which it sends on its once-a-second timer. A sign-in meanwhile would rightly fail: there is
 * no replica to make it durable yet.
 */
async function replicaInSync(topology: Topology): Promise<void> {
  await until('the replica to sync', async () =>
    /slave0:.*state=online/.test(await cli(topology.primary.port, 'info', 'replication')),
  );
  await cli(topology.primary.port, 'set', 'model:sync', String(Date.now()));
  expect(await cli(topology.primary.port, 'wait', '1', '3000'), 'the replica acknowledges').to.equal('1');
}

/**
 * Makes each store's connection write durably once. On this Redis the first WAIT after a
 * connection's first script waits for the replica's once-a-second acknowledgement: a sign-in
 * then would rightly fail (not durable yet), which is not what the steps after it are about.
 */
async function warm(stores: PausableStore[]): Promise<void> {
  const grant = { accessToken: 'warm', refreshToken: 'warm', expiresAt: 0, grantId: 'warm' };
  for (const store of stores) {
    for (let attempt = 0; ; attempt++) {
      const done = await store.replace('warm', grant, 0).then(
        () => true,
        (err: unknown) => (attempt < 30 ? false : Promise.reject(err as Error)),
      );
      if (done) break;
      await sleep(100);
    }
  }
}

/** What the restart step counted: grants Redis took with it, each one reported. */
const restarts = { steps: 0, grantsLost: 0 };

/**
 * Redis restarts without persistence. Every grant the app held is then held by nobody, live at
 * Samsara: the invariant is weakened exactly so (they join `model.lost`, excused from the
 * Disconnect and per-grant counts), and only once each store has said so: its health() reports
 * the loss, and the organization's next call is reported as lost with the store, not as never
 * connected. Nothing is revoked, and nothing is written back as if the old data existed.
 */
const restartWithoutPersistence = (topology: Topology): Step =>
  step('Redis restarts without persistence', async (model, real) => {
    restarts.steps++;
    const revocations = real.emulator.counters.revocations;
    const held = [...model.held].filter(
      ([grant, refreshToken]) => !model.lost.has(grant) && real.emulator.grantStatus(refreshToken) !== 'revoked',
    );
    // Running processes have read the marker (a readiness probe, any call): a store that never
    // read it cannot tell a Redis that lost its data from a new one.
    for (const store of real.stores) await store.health();
    await topology.primary.kill();
    await topology.primary.restart();
    await replicaInSync(topology);
    await warm(real.stores);
    for (const store of real.stores) {
      let health = await store.health();
      for (let i = 0; health.status === 'unavailable' && i < 100; i++) health = await store.health();
      expect(health.status, 'each store says it lost its data').to.equal('lost-data');
    }
    const heard: ReauthorizeEvent[] = [];
    const listener = (m: unknown): void => void heard.push(m as ReauthorizeEvent);
    subscribe(SAMSARA_CHANNELS.reauthorize, listener);
    try {
      await settle(real.managers[1].accessToken(KEY));
    } finally {
      unsubscribe(SAMSARA_CHANNELS.reauthorize, listener);
    }
    expect(heard.map((m) => m.outcome)).to.deep.equal(['lost-data']);
    expect(real.emulator.counters.revocations, 'nothing revoked for the loss').to.equal(revocations);
    expect(await current(real), 'nothing written back').to.equal(null);
    for (const [grant] of held) model.lost.add(grant);
    restarts.grantsLost += held.length;
  });

/** What the failover step counted: grants whose rotation the promoted replica lacked (none, with durability). */
const failovers = { steps: 0, grantsLost: 0 };

/**
 * A failover right after a refresh storm: the replica's link is held, both processes refresh,
 * the primary dies with the rotation, the replica is promoted. The rotated tokens were never
 * durable, so each process kept them and writes them again: they land on the new primary, the
 * grant stays held. The old primary comes back empty, as the new one's replica.
 */
const failover = (topology: Topology): Step =>
  step(
    'failover: the primary dies right after a refresh storm its replica never received',
    async (_model, real) => {
      failovers.steps++;
      const seen = (await current(real))!;
      topology.link.hold();
      await Promise.all(real.managers.map((m) => settle(m.accessToken(KEY, { rejected: seen.accessToken }))));
      await topology.primary.kill();
      await cli(topology.replica.port, 'replicaof', 'no', 'one');
      [topology.primary, topology.replica] = [topology.replica, topology.primary];
      topology.front.retarget(topology.primary.port);
      let survived: boolean;
      try {
        await quiesce(real);
        const stored = await current(real);
        survived = stored !== null && real.emulator.grantStatus(stored.refreshToken) === 'active';
      } finally {
        // The old primary comes back as the replica even when the step fails: the shrinking and
        // the runs after it need the topology whole.
        topology.link.release();
        topology.link.retarget(topology.primary.port);
        await topology.replica.restart();
        await replicateThrough(topology.replica, topology.link);
        await replicaInSync(topology);
        await warm(real.stores);
      }
      if (!survived) failovers.grantsLost++;
      expect(survived, 'the stored grant survived the failover').to.equal(true);
    },
    true,
  );

/**
 * Postgres restarts (pg_ctl restart -m fast: every connection dropped) while a refresh is at the
 * token endpoint, so its write meets a database that is down. Nothing is lost: committed data
 * stays, the unsaved rotation is written again once Postgres is back, the stores say ok, and the
 * organization's grant is still current and works.
 */
const restartMidRefresh = (server: PostgresServer): Step =>
  step(
    'Postgres restarts mid-refresh',
    async (_model, real) => {
      restarts.steps++;
      const seen = (await current(real))!;
      const revocations = real.emulator.counters.revocations;
      real.emulator.injectFault('token', { type: 'delay', ms: 150 });
      const refreshing = settle(real.managers[0].accessToken(KEY, { rejected: seen.accessToken }));
      await sleep(40);
      await server.restart();
      await refreshing;
      await settle(real.managers[1].accessToken(KEY));
      await quiesce(real);
      for (const store of real.stores) expect((await store.health()).status, 'the stores are ok').to.equal('ok');
      expect(await current(real), 'the grant outlived the restart').to.not.equal(null);
      expect(real.emulator.counters.revocations, 'nothing revoked for the restart').to.equal(revocations);
    },
    true,
  );

const steps = (counters: { steps: number }, backend: Backend): fc.Arbitrary<Step>[] => [
  ...backend.faults.map((fault) => fc.constant(fault)),
  fc.tuple(fc.integer({ min: 0, max: 1 }), fc.boolean()).map(([m, expired]) =>
    step(`sign-in via ${m}${expired ? ' (token already expired)' : ''}`, async (model, real) => {
      counters.steps++;
      await real.managers[m].connect(KEY, issue(real, model, expired));
    }),
  ),
  fc.integer({ min: 0, max: 1 }).map((m) =>
    step(`refused sign-in via ${m}`, async (model, real) => {
      counters.steps++;
      await real.managers[m].discard(KEY, issue(real, model));
    }),
  ),
  fc.boolean().map((rejected) =>
    step(`refresh storm${rejected ? ' after a 401' : ''}`, async (_model, real) => {
      counters.steps++;
      const seen = await current(real);
      const options = rejected && seen ? { rejected: seen.accessToken } : {};
      await Promise.all(
        real.managers.flatMap((m) => Array.from({ length: 3 }, () => settle(m.accessToken(KEY, options)))),
      );
    }),
  ),
  fc.integer({ min: 0, max: 1 }).map((m) =>
    step(`Disconnect via ${m}`, async (model, real) => {
      counters.steps++;
      await real.managers[m].revoke(KEY);
      for (const grant of model.held.keys()) model.disconnected.add(grant);
    }),
  ),
  fc.constant(
    step("Disconnect while Samsara's revoke endpoint fails", async (_model, real) => {
      counters.steps++;
      real.emulator.injectFault('revoke', { type: 'status', status: 503, body: 'down', contentType: 'text/plain' }, 50);
      await settle(real.managers[0].revoke(KEY));
    }),
  ),
  fc.integer({ min: 0, max: 1 }).map((m) =>
    step(
      `a sign-in via ${m} while the other process is paused between a refresh and its write`,
      async (model, real) => {
        counters.steps++;
        const seen = (await current(real))!;
        const paused = await refreshPausedBeforeWrite(real, m === 0 ? 1 : 0, seen.accessToken);
        await real.managers[m].connect(KEY, issue(real, model));
        await paused.resume();
      },
      true,
    ),
  ),
  fc.constant(
    step(
      'a refresh whose response is lost after Samsara rotated',
      async (model, real) => {
        counters.steps++;
        const seen = (await current(real))!;
        model.lost.add(real.emulator.grantId(seen.refreshToken)!);
        real.emulator.injectFault('token', { type: 'drop-after-grant' });
        await settle(real.managers[0].accessToken(KEY, { rejected: seen.accessToken }));
      },
      true,
    ),
  ),
  fc.constant(
    step(
      'a late writer: paused after rotating, past its lock, while the other process finds the grant dead',
      async (_model, real) => {
        counters.steps++;
        const seen = (await current(real))!;
        const late = await refreshPausedBeforeWrite(real, 0, seen.accessToken);
        await sleep(LOCK_TTL + 50);
        await settle(real.managers[1].accessToken(KEY, { rejected: seen.accessToken }));
        await late.resume();
      },
      true,
    ),
  ),
  fc.integer({ min: 0, max: 1 }).map((m) =>
    step(`a sign-in via ${m} while the store is paused`, async (model, real) => {
      counters.steps++;
      const grant = issue(real, model);
      await real.backend.pause();
      try {
        const connected = await settle(real.managers[m].connect(KEY, grant));
        // What the strategy does when the verify (here: the store write) fails.
        if (connected instanceof Error) void settle(real.managers[m].discard(KEY, grant));
        await sleep(100);
      } finally {
        await real.backend.resume();
      }
    }),
  ),
  fc.constant(
    step(
      'a refresh whose write finds the store paused',
      async (_model, real) => {
        counters.steps++;
        const seen = (await current(real))!;
        real.emulator.injectFault('token', { type: 'delay', ms: 120 });
        const refreshing = settle(real.managers[0].accessToken(KEY, { rejected: seen.accessToken }));
        await sleep(40);
        await real.backend.pause();
        try {
          await refreshing;
          await sleep(50);
        } finally {
          await real.backend.resume();
        }
        await settle(real.managers[0].accessToken(KEY));
      },
      true,
    ),
  ),
];

/** A Redis primary and its replica without persistence, reached through a proxy; paused by SIGSTOP. */
async function redisBackend(): Promise<Backend & { stop(): Promise<void> }> {
  const [primary, replica] = await Promise.all([startRedis(), startRedis()]);
  const [front, link] = await Promise.all([startHoldingProxy(primary.port), startHoldingProxy(primary.port)]);
  const topology: Topology = { primary, replica, front, link };
  await replicateThrough(replica, link);
  await replicaInSync(topology);
  const entry = { ...primary, port: front.port };
  const clients = [connect('ioredis 5', entry) as Redis, connect('ioredis 5', entry) as Redis];
  return {
    name: 'Redis',
    stores: (run) =>
      clients.map((client) =>
        pausable(
          new RedisTokenStore({ client, keys, prefix: `model-${run}:`, timeout: STORE_TIMEOUT, pollInterval: 50 }),
        ),
      ),
    pause: async () => topology.primary.pause(),
    resume: async () => topology.primary.resume(),
    ready: warm,
    faults: [restartWithoutPersistence(topology), failover(topology)],
    stop: async () => {
      for (const client of clients) client.disconnect();
      await Promise.all([front.close(), link.close()]);
      await Promise.all([topology.primary.stop(), topology.replica.stop()]);
    },
  };
}

/** A Postgres of the test's own (restarted mid-refresh), a schema per run, paused by locking its tables. */
async function postgresBackend(): Promise<Backend & { stop(): Promise<void> }> {
  const server = await startPostgres();
  const pools = [pool(server.config), pool(server.config)];
  let schema = '';
  let holder: PoolClient | undefined;
  return {
    name: 'Postgres',
    stores: (run) => {
      schema = `model_${run.replaceAll('-', '_')}`;
      return pools.map((each) =>
        pausable(new PostgresTokenStore({ pool: each, keys, schema, timeout: STORE_TIMEOUT, pollInterval: 50 })),
      );
    },
    pause: async () => {
      await new PostgresTokenStore({ pool: pools[0], keys, schema }).migrate();
      holder = await pools[0].connect();
      await holder.query('BEGIN');
      await holder.query(
        `LOCK TABLE "${schema}".grants, "${schema}".retired, "${schema}".locks IN ACCESS EXCLUSIVE MODE`,
      );
    },
    resume: async () => {
      const held = holder;
      holder = undefined;
      await held?.query('ROLLBACK').catch(() => undefined);
      held?.release();
    },
    ready: async () => undefined,
    faults: [restartMidRefresh(server)],
    stop: async () => {
      await Promise.all(pools.map((each) => each.end()));
      await server.stop();
    },
  };
}

const backends: [() => Promise<Backend & { stop(): Promise<void> }>, number][] = [
  [redisBackend, 30],
  [postgresBackend, 30],
];

for (const [start, numRuns] of backends) {
  for (const scope of ['organization', 'grant'] as RevocationScope[]) {
    describe(`the grant invariant, model-based, on ${start === redisBackend ? 'Redis' : 'Postgres'} (revocation reaches ${scope === 'grant' ? 'one grant' : 'the organization'})`, function () {
      this.timeout(240_000);
      let backend: Backend & { stop(): Promise<void> };

      before(async () => {
        backend = await start();
      });
      after(async () => {
        await backend?.stop();
      });

      it('holds over random interleavings of two processes, at quiescence after every step', async () => {
        const counters = { runs: 0, steps: 0 };
        let run = 0;
        await fc.assert(
          fc.asyncProperty(fc.commands(steps(counters, backend), { maxCommands: 12 }), async (commands) => {
            counters.runs++;
            const emulator = await startSamsaraEmulator({ revocation: scope });
            const stores = backend.stores(`${scope}-${process.pid}-${++run}`);
            const managers = stores.map(
              (store) =>
                new TokenManager({
                  store,
                  client: { ...clientOf(emulator), timeout: TOKEN_TIMEOUT },
                  lockTtl: LOCK_TTL,
                  waitTimeout: LOCK_TTL + 500,
                  retryDelay: 10,
                  revocation: scope,
                }),
            );
            const real: Real = {
              emulator,
              backend,
              stores: stores as [PausableStore, PausableStore],
              managers: managers as [TokenManager, TokenManager],
              scope,
            };
            const model: Model = {
              held: new Map<string, string>(),
              lost: new Set<string>(),
              disconnected: new Set<string>(),
            };
            try {
              await backend.ready(stores);
              await fc.asyncModelRun(() => ({ model, real }), commands);
              // Every run ends in a Disconnect: whatever the steps left, nothing the app held stays live.
              await real.managers[0].revoke(KEY);
              for (const grant of model.held.keys()) model.disconnected.add(grant);
              await quiesce(real);
              await checkInvariant(real, model, 'the final Disconnect');
            } finally {
              await backend.resume();
              await quiesce(real).catch(() => undefined);
              await Promise.all(stores.map((store) => store.close()));
              await emulator.stop();
            }
          }),
          { seed: scope === 'grant' ? 20261129 : 11292026, numRuns, plugins: [fc.interruptAfterTimeLimit(150_000)] },
        );
        console.log(`      model-based (${backend.name}, ${scope}): ${counters.runs} runs, ${counters.steps} steps`);
        console.log(
          backend.name === 'Redis'
            ? `      restarts without persistence: ${restarts.steps}, grants lost with Redis (counted and reported): ${restarts.grantsLost}`
            : `      Postgres restarts mid-refresh: ${restarts.steps}, grants lost: ${restarts.grantsLost}`,
        );
        if (backend.name === 'Redis') {
          console.log(
            `      failovers after a refresh storm: ${failovers.steps}, grants lost with the primary: ${failovers.grantsLost}`,
          );
        }
        Object.assign(restarts, { steps: 0, grantsLost: 0 });
        Object.assign(failovers, { steps: 0, grantsLost: 0 });
        expect(counters.steps).to.be.greaterThan(0);
      });
    });
  }
}
