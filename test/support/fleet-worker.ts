/**
 * One process of a "fleet": a TokenManager on a RedisTokenStore (or a PostgresTokenStore), driven by its parent over IPC.
 * The parent (test/support/fleet.ts) forks several and makes them all ask for the same token.
 */
import Redis, { Cluster } from 'ioredis';
import { OAuthClient, PostgresTokenStore, RedisTokenStore, TokenManager, type TokenStore } from 'passport-samsara';
import { Pool, type PoolConfig } from 'pg';
// The test servers keep nothing on disk: the store's warning about that is expected here.
import './warnings.js';

export interface WorkerConfig {
  redis: { host: string; port: number } | { cluster: { host: string; port: number }[] } | null;
  /** Instead of Redis: Postgres, and the store's schema there. */
  postgres?: { config: PoolConfig; schema: string };
  prefix: string;
  keys: string;
  emulator: { clientID: string; clientSecret: string; baseURL: string };
  timeout: number;
  lockTtl: number;
  waitTimeout?: number;
  /** Stop before the compare-and-set write until the parent says `resume` (a process paused at the worst moment). */
  pauseBeforeUpdate?: boolean;
}

export type WorkerRequest = { id: number; cmd: 'burst'; key: string; n: number } | { cmd: 'resume' };
export type Outcome = { token: string } | { error: { name: string; code?: string; message: string } };
export type WorkerMessage = { ready: true } | { id: number; outcomes: Outcome[] } | { event: 'paused' };

const config = JSON.parse(process.env.FLEET_WORKER_CONFIG as string) as WorkerConfig;
function redisStore(redis: NonNullable<WorkerConfig['redis']>): RedisTokenStore {
  const client = 'cluster' in redis ? new Cluster(redis.cluster) : new Redis({ host: redis.host, port: redis.port });
  client.on('error', () => {});
  return new RedisTokenStore({ client, keys: config.keys, prefix: config.prefix });
}

function postgresStore(postgres: NonNullable<WorkerConfig['postgres']>): PostgresTokenStore {
  const pool = new Pool(postgres.config);
  pool.on('error', () => {});
  return new PostgresTokenStore({ pool, keys: config.keys, schema: postgres.schema });
}

const store: TokenStore = config.postgres ? postgresStore(config.postgres) : redisStore(config.redis!);
const send = (message: WorkerMessage): void => {
  process.send?.(message);
};

let resume: (() => void) | undefined;
if (config.pauseBeforeUpdate) {
  const update = store.update.bind(store);
  store.update = async (...args) => {
    send({ event: 'paused' });
    await new Promise<void>((r) => (resume = r));
    return update(...args);
  };
}

const manager = new TokenManager({
  store,
  client: new OAuthClient({
    clientID: config.emulator.clientID,
    clientSecret: config.emulator.clientSecret,
    baseURL: config.emulator.baseURL,
    timeout: config.timeout,
  }),
  lockTtl: config.lockTtl,
  ...(config.waitTimeout ? { waitTimeout: config.waitTimeout } : {}),
});

process.on('message', (message: WorkerRequest) => {
  if (message.cmd === 'resume') {
    resume?.();
    return;
  }
  const served = Promise.allSettled(Array.from({ length: message.n }, () => manager.accessToken(message.key)));
  // A refresh's write lands behind its callers: the answer waits for it, so that the parent finds
  // the store as the burst left it.
  void served.then(async (results) => {
    await manager.idle();
    send({
      id: message.id,
      outcomes: results.map((r) =>
        r.status === 'fulfilled'
          ? { token: r.value }
          : {
              error: {
                name: (r.reason as Error).name,
                code: (r.reason as { code?: string }).code,
                message: (r.reason as Error).message,
              },
            },
      ),
    });
  });
});
process.on('disconnect', () => process.exit(0));

// Ready once the store answers (and, on Postgres, its schema is there).
void store.get('ready?').then(() => send({ ready: true }));
