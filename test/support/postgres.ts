import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as connectTo, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { Pool, type PoolConfig } from 'pg';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

/** The shared Postgres of this machine (trust auth, database `test`). */
export const SHARED = { host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' };

/** A schema name of this test run's own, so parallel runs never meet. */
export function testSchema(tag: string): string {
  return `t_${tag}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

/** A pool whose idle connections may drop (a restart) without crashing the test process. */
export function pool(config: PoolConfig = {}): Pool {
  const made = new Pool({ ...SHARED, max: 10, ...config });
  made.on('error', () => undefined);
  return made;
}

/** Drops a schema of this run, with everything in it. */
export async function dropSchema(schema: string, config: PoolConfig = {}): Promise<void> {
  const admin = pool({ ...config, max: 1 });
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await admin.end();
  }
}

/** A Postgres server this test owns (pg_ctl, a scratch data directory in .tmp/, a free port). */
export interface PostgresServer {
  config: PoolConfig;
  /** `pg_ctl restart -m fast`: every connection dropped, committed data kept. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const scratch = join(__dirname, '..', '..', '..', '.tmp');

// A mocha run that dies or forgets stop() must not leave servers of its own behind.
const running = new Set<string>();
process.on('exit', () => {
  for (const data of running) {
    const ctl = [join(BIN, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'];
    const [cmd, ...args] = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', ...ctl] : ctl;
    spawnSync(cmd, args, { stdio: 'ignore' });
  }
});

/** initdb + pg_ctl start on a free loopback port, as the OS user running the tests (or `postgres` when root). */
export async function startPostgres(): Promise<PostgresServer> {
  mkdirSync(scratch, { recursive: true });
  const dir = mkdtempSync(join(scratch, 'pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const as = async (cmd: string, args: string[]): Promise<void> => {
    if (asRoot) await run('runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args]);
    else await run(join(BIN, cmd), args);
  };
  if (asRoot) await run('chown', ['postgres', dir]);
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  // Always with a log file: a postmaster left holding pg_ctl's stdout would keep execFile waiting.
  const ctl = (...args: string[]): Promise<void> =>
    as('pg_ctl', ['-D', data, '-w', '-l', join(dir, 'log'), '-o', opts, ...args]);
  await ctl('start');
  running.add(data);
  return {
    config: { host: '127.0.0.1', port, user: 'postgres', database: 'postgres' },
    restart: () => ctl('-m', 'fast', 'restart'),
    stop: async () => {
      await ctl('-m', 'immediate', 'stop').catch(() => undefined);
      running.delete(data);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once something accepts connections on the loopback `port` (within 5 s). */
async function listening(port: number): Promise<void> {
  for (let tries = 0; tries < 100; tries++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connectTo(port, '127.0.0.1', () => resolve(true));
      socket.once('error', () => resolve(false));
      socket.once('connect', () => socket.end());
    });
    if (up) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A PgBouncer of this test's own in front of the shared Postgres, in transaction pooling mode. */
export interface PgBouncer {
  config: PoolConfig;
  stop(): Promise<void>;
}

/** Starts `pgbouncer` (pool_mode = transaction, 3 server connections) on a free loopback port. */
export async function startPgBouncer(): Promise<PgBouncer> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin'];
  if (!dirs.some((d) => d !== '' && existsSync(join(d, 'pgbouncer')))) {
    throw new Error('pgbouncer is not installed: apt-get install -y pgbouncer (.ci/run installs it when missing)');
  }
  mkdirSync(scratch, { recursive: true });
  const dir = mkdtempSync(join(scratch, 'pgbouncer-'));
  const port = await freePort();
  const file = (name: string): string => join(dir, name);
  writeFileSync(file('users.txt'), '"postgres" ""\n');
  writeFileSync(
    file('pgbouncer.ini'),
    [
      '[databases]',
      `test = host=${SHARED.host} port=${SHARED.port} dbname=${SHARED.database} user=${SHARED.user}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${file('users.txt')}`,
      'pool_mode = transaction',
      'default_pool_size = 3',
      'max_client_conn = 200',
      `logfile = ${file('log')}`,
      `pidfile = ${file('pid')}`,
      '',
    ].join('\n'),
  );
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await run('chown', ['-R', 'postgres', dir]);
  const args = ['-d', file('pgbouncer.ini')];
  if (asRoot) await run('runuser', ['-u', 'postgres', '--', 'pgbouncer', ...args]);
  else await run('pgbouncer', args);
  await listening(port);
  return {
    config: { host: '127.0.0.1', port, user: SHARED.user, database: SHARED.database },
    stop: async () => {
      const pid = Number(readFileSync(file('pid'), 'utf8'));
      process.kill(pid, 'SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
