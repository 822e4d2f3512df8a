/**
 * The stampede's fleet: each worker is a real process with its own TokenManager on the shared
 * Redis at 127.0.0.1:6379, so the refresh lock is measured across processes, not promises.
 * Imported, this module starts workers; forked (by startWorker), it is one.
 */
import { fork } from 'node:child_process';
import Redis from 'ioredis';
import { OAuthClient, RedisTokenStore, TokenManager } from 'passport-samsara';

export interface WorkerConfig {
  /** Redis key prefix, shared by the whole fleet of one measurement. */
  prefix: string;
  /** The sealing keyring, shared too. */
  keys: string;
  emulator: { clientID: string; clientSecret: string; baseURL: string };
  /** Every lock is granted: each process locks only itself, as Samsara's recipe does. */
  unlocked: boolean;
}

export interface Worker {
  /** `n` concurrent `accessToken(key)` calls in the worker; resolves with how many failed. */
  burst(key: string, n: number): Promise<number>;
  stop(): Promise<void>;
}

type Burst = { id: number; key: string; n: number };
type Reply = { ready: true } | { id: number; failed: number };

export async function startWorker(config: WorkerConfig): Promise<Worker> {
  const child = fork(__filename, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const bursts = new Map<number, { resolve: (failed: number) => void; reject: (err: Error) => void }>();
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
    bursts.get(reply.id)?.resolve(reply.failed);
    bursts.delete(reply.id);
  });
  await started;
  let lastId = 0;
  return {
    burst(key, n) {
      const id = ++lastId;
      return new Promise((resolve, reject) => {
        bursts.set(id, { resolve, reject });
        child.send({ id, key, n } satisfies Burst);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect(); // the worker exits when its parent lets go
      await exited;
    },
  };
}

function runWorker(config: WorkerConfig): void {
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const store = new RedisTokenStore({ client: redis, keys: config.keys, prefix: config.prefix });
  if (config.unlocked) store.lock = async () => ({ release: async () => undefined });

  const manager = new TokenManager({
    store,
    client: new OAuthClient({ ...config.emulator, timeout: 2_000 }),
    lockTtl: 5_000,
  });
  process.on('message', async ({ id, key, n }: Burst) => {
    const results = await Promise.allSettled(Array.from({ length: n }, () => manager.accessToken(key)));
    process.send?.({ id, failed: results.filter((r) => r.status === 'rejected').length } satisfies Reply);
  });
  process.on('disconnect', () => process.exit(0));
  void redis.ping().then(() => process.send?.({ ready: true } satisfies Reply));
}

if (require.main === module) runWorker(JSON.parse(process.argv[2]) as WorkerConfig);
