/**
 * One process of the sync benchmark (forked by bench/sync.ts): it lists every organization's
 * vehicles, all organizations at once, through the official SDK, and reports when each began and
 * ended. `sdk`: the SDK alone, with a bare token and its own retries; `unlimited`: on
 * `tokens.forOrg` with `rateLimit: false`; `limited`: on `tokens.forOrg` with the fleet-wide limiter.
 */
import { SamsaraClient } from '@samsarahq/samsara';
import Redis from 'ioredis';
import { RedisTokenStore, TokenManager } from 'passport-samsara';

export type SyncMode = 'sdk' | 'unlimited' | 'limited';

export interface SyncWorkerConfig {
  mode: SyncMode;
  prefix: string;
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

async function syncAll(config: SyncWorkerConfig): Promise<OrgRun[]> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const store = new RedisTokenStore({ client: redis, keys: config.keys, prefix: config.prefix });
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
  process.send?.({ ready: true });
  await new Promise((resolve) => process.once('message', resolve));
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
  await store.close();
  redis.disconnect();
  return runs;
}

if (require.main === module) {
  syncAll(JSON.parse(process.argv[2]) as SyncWorkerConfig).then(
    (runs) => process.send?.({ runs }, () => process.exit(0)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
