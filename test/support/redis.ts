import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Redis, { Cluster } from 'ioredis';
import Redis6 from 'ioredis6';
// Keeps the store's warnings about these servers (they keep nothing on disk) off the output.
import './warnings.js';

const run = promisify(execFile);
const HOST = '127.0.0.1';

/** A redis-server process this test owns, on a loopback port. */
export interface RedisServer {
  host: string;
  port: number;
  /** SIGKILL: Redis vanishes with its data, as in a crash. */
  kill(): Promise<void>;
  /** SIGSTOP: Redis keeps its connections open and answers nothing, as in a long GC or a frozen VM. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** A redis-server on the same port, after `kill()`: empty, unless started `persistent`. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Masters holding every slot between them (and their replicas, when asked for). */
export interface RedisCluster {
  nodes: { host: string; port: number }[];
  /** Every node's process, by port. */
  servers: RedisServer[];
  stop(): Promise<void>;
}

// A mocha run that dies or forgets stop() must not leave redis-servers behind.
const running = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Starts `redis-server` on a free loopback port and resolves once it answers PING. Without
 * persistence by default; `persistent` keeps every write in an fsynced append-only file, so data
 * outlives `kill()` + `restart()` (a crash that loses nothing Redis acknowledged).
 */
export async function startRedis(options: { persistent?: boolean } = {}): Promise<RedisServer> {
  if (!options.persistent) return launch(await freePort(), []);
  const dir = mkdtempSync(join(tmpdir(), 'samsara-redis-'));
  tempDirs.add(dir);
  const server = await launch(await freePort(), ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]);
  return {
    ...server,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
  };
}

/**
 * Starts `nodes` cluster-enabled redis-servers, joins them with `redis-cli --cluster create`
 * (`replicas` per master: `nodes` must allow it) and resolves once every node reports
 * `cluster_state:ok` and every replica's link is up.
 */
export async function startRedisCluster(nodes = 3, replicas = 0): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'samsara-cluster-'));
  tempDirs.add(dir);
  const servers: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  try {
    for (let i = 0; i < nodes; i++) {
      // The cluster bus listens on port + 10000, so that one must be free too.
      const port = await freePort(true);
      const config = ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)];
      servers.push(await launch(port, [...config, '--cluster-node-timeout', '2000', '--dir', dir]));
    }
    const addresses = servers.map(({ port }) => `${HOST}:${port}`);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...addresses,
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ]);
    await Promise.all(
      servers.map(({ port }) =>
        until(
          `cluster_state:ok on ${port}`,
          async () => {
            const info = await cli(port, 'info', 'replication');
            const synced = info.includes('role:master') || info.includes('master_link_status:up');
            return synced && (await cli(port, 'cluster', 'info')).includes('cluster_state:ok');
          },
          20_000,
        ),
      ),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes: servers.map(({ host, port }) => ({ host, port })), servers, stop };
}

async function launch(port: number, extraArgs: string[]): Promise<RedisServer> {
  // Replication in memory both ways: a replica writing the RDB it received to its directory would
  // bring that data back on a restart meant to start empty (and leave dump.rdb in the work tree).
  const replication = [
    '--repl-diskless-sync',
    'yes',
    '--repl-diskless-sync-delay',
    '0',
    '--repl-diskless-load',
    'swapdb',
  ];
  const args = [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    ...replication,
    ...extraArgs,
  ];
  let child = await spawnRedis(port, args);
  const kill = async (): Promise<void> => {
    if (hasExited(child)) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  return {
    host: HOST,
    port,
    kill,
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    restart: async () => {
      child = await spawnRedis(port, args);
    },
    stop: kill,
  };
}

async function spawnRedis(port: number, args: string[]): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.once('exit', () => running.delete(child));
  try {
    await until(`redis-server on port ${port} to answer PING`, async () => {
      if (hasExited(child)) throw new Error(`redis-server on port ${port} exited:\n${output}`);
      return (await cli(port, 'ping')) === 'PONG';
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return child;
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** A redis-cli command's output, '' when it fails. */
export async function cli(port: number, ...command: string[]): Promise<string> {
  try {
    const { stdout } = await run('redis-cli', ['-h', HOST, '-p', String(port), ...command], { timeout: 2000 });
    return stdout.trim();
  } catch {
    return '';
  }
}

/** Polls `check` until true; throws naming `what` past `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await sleep(20);
  }
}

/** A free loopback port (and, `withBus`, its cluster bus port + 10000 too). */
export async function freePort(withBus = false): Promise<number> {
  for (;;) {
    const port = await listenAndClose(0);
    if (!withBus) return port;
    if (
      port + 10000 <= 65535 &&
      (await listenAndClose(port + 10000).then(
        () => true,
        () => false,
      ))
    )
      return port;
  }
}

function listenAndClose(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, HOST, () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}

/** The clients the Redis store must work with. */
export type RedisFlavor = 'ioredis 5' | 'ioredis 6' | 'ioredis 5 Cluster';

/**
 * A client of `flavor` that retries fast (tests restart Redis) and whose error events are
 * expected (tests observe failures through the store).
 */
export function connect(flavor: RedisFlavor, target: RedisServer | RedisCluster): Redis | Cluster {
  const retryStrategy = (): number => 50;
  const client =
    'nodes' in target
      ? new Cluster(target.nodes, { clusterRetryStrategy: retryStrategy })
      : flavor === 'ioredis 6'
        ? // Typed as ioredis 5: an app's own build sees one ioredis, the one it installed.
          (new Redis6({ host: target.host, port: target.port, retryStrategy }) as unknown as Redis)
        : new Redis({ host: target.host, port: target.port, retryStrategy });
  client.on('error', () => {});
  return client;
}
