/**
 * The stampede's fleet: each worker is a real process with its own TokenManager on the shared
 * Redis at 127.0.0.1:6379 (or, with `postgres`, the shared Postgres at 127.0.0.1:5432, database
 * `test`), so the refresh lock is measured across processes, not promises.
 * Imported, this module starts workers; forked (by startWorker), it is one.
 */
import { fork } from 'node:child_process';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { channel, subscribe } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'pg';
import {
  OAuthClient,
  PostgresTokenStore,
  RedisTokenStore,
  SAMSARA_CHANNELS,
  TokenManager,
  type Credentials,
  type RefreshEvent,
  type TokenStore,
} from 'passport-samsara';

export interface WorkerConfig {
  /** Redis key prefix, shared by the whole fleet of one measurement. */
  prefix: string;
  /** When set, the fleet's store is a PostgresTokenStore under this schema instead of Redis. */
  postgres?: string;
  /** The sealing keyring, shared too. */
  keys: string;
  emulator: { clientID: string; clientSecret: string; baseURL: string };
  /** Every lock is granted: each process locks only itself, as Samsara's recipe does. */
  unlocked: boolean;
  /**
   * Who gets the token. `manager` (default): this package. `recipe`: Samsara's recipe, a
   * per-process mutex whose waiters sleep 0.5 s and look again. `naive`: every call that sees an
   * expired token refreshes it itself (as apps commonly do with passport-oauth2-refresh).
   */
  mode?: 'manager' | 'recipe' | 'naive';
}

/** One timed burst, as the worker saw it. Times are epoch ms with sub-ms precision. */
export interface TimedBurst {
  failed: number;
  /** Each call's latency, ms. */
  latencies: number[];
  /** When each successful call had its token. */
  doneAt: number[];
  /** When this process's refresh write landed (its `refreshed` event), if it refreshed. */
  wroteAt: number | null;
  /** Milliseconds this burst spent in each phase of the refresh path (summed over its calls), and connections opened. */
  phases: Phases;
}

/** Where a burst's time went: the store's calls, the token request (and its part at the endpoint), new connections. */
export interface Phases {
  lock: number;
  read: number;
  token: number;
  /** From the request's headers sent to the response's headers received: the token endpoint's own time. */
  endpoint: number;
  write: number;
  unlock: number;
  connections: number;
}

const CHANNELS = {
  start: channel('http.client.request.start'),
  headers: channel('http.client.response.finish'),
  socket: channel('net.client.socket'),
};

const noPhases = (): Phases => ({ lock: 0, read: 0, token: 0, endpoint: 0, write: 0, unlock: 0, connections: 0 });

/** Wraps `target[method]` so that the time each call takes is added to `phases()[phase]`. */
function timeMethod<T extends object>(
  target: T,
  method: keyof T & string,
  phase: keyof Phases,
  phases: () => Phases,
): void {
  const original = (target[method] as (...args: unknown[]) => Promise<unknown>).bind(target);
  (target as Record<string, unknown>)[method] = async (...args: unknown[]) => {
    const started = performance.now();
    try {
      return await original(...args);
    } finally {
      phases()[phase] += performance.now() - started;
    }
  };
}

/** Times the phases of `store` and `client` calls into `phases()`: the store's calls, the token request, undici's socket. */
function timePhases(store: TokenStore, client: OAuthClient, phases: () => Phases): void {
  timeMethod(store, 'get', 'read', phases);
  timeMethod(store, 'update', 'write', phases);
  timeMethod(client, 'refresh', 'token', phases);
  const lock = store.lock.bind(store);
  store.lock = async (key, ttl) => {
    const started = performance.now();
    const handle = await lock(key, ttl);
    phases().lock += performance.now() - started;
    if (!handle) return handle;
    timeMethod(handle, 'release', 'unlock', phases);
    return handle;
  };
  // node:http's own channels: the request is written, then its response's headers arrive. Held
  // here, since a channel nobody references may be collected with its subscribers.
  const sent = new WeakMap<object, number>();
  subscribe(CHANNELS.start.name, (message) => sent.set((message as { request: object }).request, performance.now()));
  subscribe(CHANNELS.headers.name, (message) => {
    const at = sent.get((message as { request: object }).request);
    if (at !== undefined) phases().endpoint += performance.now() - at;
  });
  subscribe(CHANNELS.socket.name, () => phases().connections++);
}

/** Milliseconds since the epoch, sub-millisecond, comparable across processes on one machine. */
export const now = (): number => performance.timeOrigin + performance.now();

export interface Worker {
  /** `n` concurrent `accessToken(key)` calls in the worker; resolves with how many failed. */
  burst(key: string, n: number): Promise<number>;
  /** The same, timed. */
  timed(key: string, n: number): Promise<TimedBurst>;
  /**
   * The token call alone, timed: one refresh of `refreshToken` as a bare `node:http` POST on a
   * kept-alive socket (the form, Basic auth, the whole body read and parsed), with no store and no manager.
   */
  bare(refreshToken: string): Promise<number>;
  stop(): Promise<void>;
}

type Burst = { id: number; key: string; n: number; timed?: boolean } | { id: number; bare: string };
type Reply = { ready: true } | ({ id: number } & TimedBurst);
/** A request to the worker before it is numbered (per member of the union). */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;

export async function startWorker(config: WorkerConfig): Promise<Worker> {
  const child = fork(__filename, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const bursts = new Map<number, { resolve: (result: TimedBurst) => void; reject: (err: Error) => void }>();
  let ready!: () => void;
  const started = new Promise<void>((resolve, reject) => {
    ready = resolve;
    child.once('exit', (code) => {
      const err = new Error(`bench worker exited with ${code}`);
      reject(err);
      for (const burst of bursts.values()) burst.reject(err);
    });
  });
  child.on('message', (reply: Reply) => {
    if ('ready' in reply) {
      ready();
      return;
    }
    bursts.get(reply.id)?.resolve(reply);
    bursts.delete(reply.id);
  });
  await started;
  let lastId = 0;
  const ask = (burst: Unnumbered<Burst>): Promise<TimedBurst> => {
    const id = ++lastId;
    return new Promise((resolve, reject) => {
      bursts.set(id, { resolve, reject });
      child.send({ id, ...burst });
    });
  };
  return {
    async burst(key, n) {
      return (await ask({ key, n, timed: false })).failed;
    },
    timed(key, n) {
      return ask({ key, n, timed: true });
    },
    async bare(refreshToken) {
      return (await ask({ bare: refreshToken })).latencies[0];
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect(); // the worker exits when its parent lets go
      await exited;
    },
  };
}

type GetToken = (key: string) => Promise<string>;

/** The contenders' way to refresh: the token endpoint, then a CAS write whose loss nobody checks. */
async function refreshAndStore(
  store: TokenStore,
  client: OAuthClient,
  key: string,
  creds: Credentials,
): Promise<string> {
  const set = await client.refresh(creds.refreshToken);
  await store.update(
    key,
    { ...creds, accessToken: set.accessToken, refreshToken: set.refreshToken, expiresAt: set.expiresAt },
    creds.version,
  );
  return set.accessToken;
}

async function stored(store: TokenStore, key: string): Promise<Credentials> {
  const creds = await store.get(key);
  if (!creds) throw new Error('no credentials');
  return creds;
}

function naive(store: TokenStore, client: OAuthClient): GetToken {
  return async (key) => {
    const creds = await stored(store, key);
    return creds.expiresAt > Date.now() ? creds.accessToken : refreshAndStore(store, client, key, creds);
  };
}

function recipe(store: TokenStore, client: OAuthClient): GetToken {
  let locked = false;
  return async (key) => {
    let creds = await stored(store, key);
    // An expired token: take the process's mutex, or sleep 0.5 s and look again.
    while (creds.expiresAt <= Date.now() && locked) {
      await sleep(500);
      creds = await stored(store, key);
    }
    if (creds.expiresAt > Date.now()) return creds.accessToken;
    locked = true;
    try {
      return await refreshAndStore(store, client, key, creds);
    } finally {
      locked = false;
    }
  };
}

/** A refresh as a bare `node:http` POST to the emulator's token endpoint: the token call with nothing around it. */
function bareTokenCall(emulator: WorkerConfig['emulator']): (refreshToken: string) => Promise<unknown> {
  const agent = new HttpAgent({ keepAlive: true });
  const url = `${emulator.baseURL}/oauth2/token`;
  const authorization = `Basic ${Buffer.from(`${emulator.clientID}:${emulator.clientSecret}`).toString('base64')}`;
  return (refreshToken) =>
    new Promise((resolve, reject) => {
      const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString();
      const headers = {
        authorization,
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(Buffer.byteLength(body)),
      };
      const request = httpRequest(url, { method: 'POST', agent, headers }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
        response.on('error', reject);
      });
      request.on('error', reject);
      request.end(body);
    });
}

/** The Postgres pool every bench process opens: 127.0.0.1:5432, database `test`, trust auth. */
export function benchPool(): Pool {
  const pool = new Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', max: 20 });
  pool.on('error', () => undefined);
  return pool;
}

/** The worker's store, and a promise that settles once it answers (a Redis ping, the Postgres migration). */
function openStore(config: WorkerConfig): { store: TokenStore; ready: Promise<unknown> } {
  if (config.postgres !== undefined) {
    const store = new PostgresTokenStore({ pool: benchPool(), keys: config.keys, schema: config.postgres });
    return { store, ready: store.migrate() };
  }
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  return {
    store: new RedisTokenStore({ client: redis, keys: config.keys, prefix: config.prefix }),
    ready: redis.ping(),
  };
}

function runWorker(config: WorkerConfig): void {
  const client = new OAuthClient({ ...config.emulator, timeout: 2_000 });
  const { store, ready } = openStore(config);
  if (config.unlocked) store.lock = async () => ({ release: async () => undefined });
  let phases = noPhases();
  timePhases(store, client, () => phases);

  const manager = new TokenManager({
    store,
    client,
    lockTtl: 5_000,
  });
  const getToken =
    config.mode === 'recipe'
      ? recipe(store, client)
      : config.mode === 'naive'
        ? naive(store, client)
        : (key: string) => manager.accessToken(key);
  let wroteAt: number | null = null;
  subscribe(SAMSARA_CHANNELS.refresh, (message) => {
    if ((message as RefreshEvent).outcome === 'refreshed') wroteAt = now();
  });
  const tokenCall = bareTokenCall(config.emulator);
  const onBare = async (id: number, refreshToken: string): Promise<void> => {
    const started = performance.now();
    await tokenCall(refreshToken);
    const latencies = [performance.now() - started];
    process.send?.({ id, failed: 0, latencies, doneAt: [], wroteAt: null, phases: noPhases() } satisfies Reply);
  };
  const onBurst = async ({ id, key, n, timed }: Extract<Burst, { key: string }>): Promise<void> => {
    wroteAt = null;
    phases = noPhases();
    const latencies: number[] = [];
    const doneAt: number[] = [];
    const results = await Promise.allSettled(
      Array.from({ length: n }, async () => {
        const started = timed ? performance.now() : 0;
        await getToken(key);
        if (!timed) return;
        doneAt.push(now());
        latencies.push(performance.now() - started);
      }),
    );
    const failed = results.filter((r) => r.status === 'rejected').length;
    // The write and the unlock run behind the callers' backs: wait for them to be counted.
    await manager.idle();
    process.send?.({ id, failed, latencies, doneAt, wroteAt, phases } satisfies Reply);
  };
  process.on('message', (burst: Burst) => void ('bare' in burst ? onBare(burst.id, burst.bare) : onBurst(burst)));
  process.on('disconnect', () => process.exit(0));
  void ready.then(() => process.send?.({ ready: true } satisfies Reply));
}

if (require.main === module) runWorker(JSON.parse(process.argv[2]) as WorkerConfig);
