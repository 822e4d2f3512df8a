import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, freePort, startRedis, until, type RedisServer } from './redis.js';

const HOST = '127.0.0.1';

/**
 * A TCP proxy that can hold the bytes one way: what the upstream sends is kept back (the
 * connection stays open, as on a congested link) until `release()`, and dropped if the upstream
 * dies meanwhile. Between a primary and its replica, it makes the replica lag on demand.
 */
export interface HoldingProxy {
  port: number;
  hold(): void;
  release(): void;
  /** Sends new connections to `port`, and ends the current ones (their held bytes are lost). */
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startHoldingProxy(upstreamPort: number): Promise<HoldingProxy> {
  let held = false;
  const pairs = new Set<{ down: Socket; up: Socket; kept: Buffer[] }>();
  let target = upstreamPort;
  const server: Server = createServer((down) => {
    const up = createConnection({ host: HOST, port: target });
    // Nagle's delay would add 40 ms to every small reply (a WAIT's acknowledgement).
    down.setNoDelay(true);
    up.setNoDelay(true);
    const pair = { down, up, kept: [] as Buffer[] };
    pairs.add(pair);
    down.on('data', (chunk) => up.write(chunk));
    up.on('data', (chunk) => (held ? pair.kept.push(chunk) : down.write(chunk)));
    const end = (): void => {
      pairs.delete(pair);
      down.destroy();
      up.destroy();
    };
    down.on('close', end).on('error', end);
    up.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    port: (server.address() as { port: number }).port,
    hold: () => (held = true),
    release: () => {
      held = false;
      for (const pair of pairs) for (const chunk of pair.kept.splice(0)) pair.down.write(chunk);
    },
    retarget: (port) => {
      target = port;
      for (const pair of pairs) {
        pair.down.destroy();
        pair.up.destroy();
      }
    },
    close: async () => {
      for (const pair of pairs) {
        pair.down.destroy();
        pair.up.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Makes `replica` replicate from whatever `link` forwards to, and waits for its first sync. */
export async function replicateThrough(replica: RedisServer, link: HoldingProxy): Promise<void> {
  await cli(replica.port, 'replicaof', HOST, String(link.port));
  await until('the replica to sync', async () =>
    (await cli(replica.port, 'info', 'replication')).includes('master_link_status:up'),
  );
}

/** A primary, one replica that replicates through a {@link HoldingProxy}, and one Sentinel. */
export interface SentinelSetup {
  primary: RedisServer;
  replica: RedisServer;
  proxy: HoldingProxy;
  sentinel: { host: string; port: number };
  name: string;
  /** The address Sentinel gives for the primary now. */
  primaryPort(): Promise<number>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts the three processes and resolves once Sentinel knows the replica. */
export async function startSentinelSetup(): Promise<SentinelSetup> {
  const name = 'tokens';
  const primary = await startRedis();
  const proxy = await startHoldingProxy(primary.port);
  const replica = await startRedis();
  await replicateThrough(replica, proxy);
  const dir = mkdtempSync(join(tmpdir(), 'samsara-sentinel-'));
  const port = await freePort();
  const config = join(dir, 'sentinel.conf');
  writeFileSync(
    config,
    [
      `port ${port}`,
      `bind ${HOST}`,
      `dir ${dir}`,
      `sentinel monitor ${name} ${HOST} ${primary.port} 1`,
      `sentinel down-after-milliseconds ${name} 500`,
      `sentinel failover-timeout ${name} 5000`,
      `sentinel parallel-syncs ${name} 1`,
      '',
    ].join('\n'),
  );
  const child = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await proxy.close();
    await Promise.all([primary.stop(), replica.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  const primaryPort = async (): Promise<number> =>
    Number((await cli(port, 'sentinel', 'get-master-addr-by-name', name)).split('\n')[1]);
  try {
    await until('Sentinel to find the replica', async () =>
      (await cli(port, 'sentinel', 'replicas', name)).includes(String(replica.port)),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { primary, replica, proxy, sentinel: { host: HOST, port }, name, primaryPort, stop };
}
