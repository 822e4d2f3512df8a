/**
 * One process of the sync benchmark (forked by bench/sync.ts): it lists every organization's
 * vehicles, all organizations at once, through the official SDK, and reports when each began and
 * ended. `sdk`: the SDK alone, with a bare token and its own retries; `unlimited`: on
 * `tokens.forOrg` with `rateLimit: false`; `limited`: on `tokens.forOrg` with the fleet-wide limiter
 * (on Redis); `postgres`: the same with a PostgresTokenStore, so the limiter on Postgres.
 */
import { SamsaraClient } from '@samsarahq/samsara';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Redis from 'ioredis';
import { PostgresTokenStore, RedisTokenStore, TokenManager } from 'passport-samsara';
import { Pool } from 'pg';

export type SyncMode = 'sdk' | 'unlimited' | 'limited' | 'postgres';

export interface SyncWorkerConfig {
  mode: SyncMode;
  prefix: string;
  /** `postgres`: the schema of the token store (and so of the limiter's table). */
  schema: string;
  keys: string;
  emulator: { clientID: string; clientSecret: string; baseURL: string };
  orgIds: string[];
  page: number;
  /** GET /fleet/vehicles per second per organization, as the emulator was told. */
  limit: number;
  /** The limiter's utilization; default its own. */
  utilization?: number;
}

/** One organization as this process synced it: epoch ms, vehicles seen, whether it finished. */
export interface OrgRun {
  orgId: string;
  start: number;
  end: number;
  vehicles: number;
  failed: boolean;
}

/** What a worker reports: its organizations, and its own event-loop delay (ms): how late it may send. */
export interface WorkerReport {
  runs: OrgRun[];
  lagP99: number;
  lagMax: number;
}

async function syncAll(config: SyncWorkerConfig): Promise<WorkerReport> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const pool = new Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', max: 10 });
  const { keys, prefix, schema } = config;
  const store =
    config.mode === 'postgres'
      ? new PostgresTokenStore({ pool, keys, prefix, schema })
      : new RedisTokenStore({ client: redis, keys, prefix });
  const tokens = new TokenManager({
    store,
    client: config.emulator,
    rateLimit:
      config.mode === 'unlimited'
        ? false
        : {
            endpoints: [{ methods: ['GET'], path: '/fleet/vehicles', limit: config.limit }],
            ...(config.utilization !== undefined && { utilization: config.utilization }),
          },
  });
  const clientFor = async (orgId: string): Promise<SamsaraClient> => {
    if (config.mode !== 'sdk') return new SamsaraClient(tokens.forOrg(orgId, { maxRateLimitWait: 120_000 }));
    return new SamsaraClient({ token: await tokens.accessToken(orgId), baseUrl: config.emulator.baseURL });
  };
  // One page first, untimed: a worker's first calls load and compile the SDK's and the package's
  // code (a stall of up to 0.5 s, measured), which a long-running job pays once, not per sync.
  if (config.mode !== 'sdk') await (await clientFor(config.orgIds[0])).vehicles.list({ limit: 1 });
  process.send?.({ ready: true });
  await new Promise((resolve) => process.once('message', resolve));
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const runs = await Promise.all(
    config.orgIds.map(async (orgId): Promise<OrgRun> => {
      const start = Date.now();
      let vehicles = 0;
      try {
        const client = await clientFor(orgId);
        for await (const _vehicle of await client.vehicles.list({ limit: config.page })) vehicles++;
        return { orgId, start, end: Date.now(), vehicles, failed: false };
      } catch {
        return { orgId, start, end: Date.now(), vehicles, failed: true };
      }
    }),
  );
  lag.disable();
  await store.close();
  redis.disconnect();
  await pool.end();
  return { runs, lagP99: lag.percentile(99) / 1e6, lagMax: lag.max / 1e6 };
}

if (require.main === module) {
  syncAll(JSON.parse(process.argv[2]) as SyncWorkerConfig).then(
    (report) => process.send?.(report, () => process.exit(0)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
