import { Redis } from 'ioredis';
import {
  MemoryTokenStore,
  PostgresTokenStore,
  RedisTokenStore,
  TokenManager,
  organizationWebhooks,
  type TokenStore,
} from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';

/** What the example servers run on, chosen by the environment. */
export interface Backends {
  tokens: TokenManager;
  /** The session Redis: SESSION_REDIS_URL, else REDIS_URL (then sessions and tokens share one Redis). */
  redis?: Redis;
  /** Started when SAMSARA_CLIENT_ID is unset: a local Samsara in this process. */
  emulator?: SamsaraEmulator;
  /** Where the server listens, once it does (`serve` sets it): the emulator's webhooks deliver there. */
  origin: { url?: string };
  /** What was chosen, one line each, for the start-up banner (no secret in any of them). */
  summary: string[];
  close(): Promise<void>;
}

/** A token store chosen by the environment, with its banner line and how to close it. */
export interface ChosenStore {
  store: TokenStore;
  /** The token Redis, when tokens are in Redis (REDIS_URL without DATABASE_URL). */
  redis?: Redis;
  summary: string;
  close(): Promise<void>;
}

/**
 * DATABASE_URL: tokens in Postgres (the schema `samsara`, created at first use); else REDIS_URL:
 * in Redis; else memory. Postgres and Redis need SAMSARA_SEALING_KEYS.
 */
export async function tokenStoreFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<ChosenStore> {
  if (env.DATABASE_URL) {
    // Loaded only here: pg is an optional peer, which an app without Postgres has not installed.
    const { Pool } = await import('pg');
    const pool = new Pool({ connectionString: env.DATABASE_URL });
    // An idle connection that drops is replaced; the store reports outages as StoreUnavailableError.
    pool.on('error', () => undefined);
    const store = new PostgresTokenStore({ pool });
    return {
      store,
      summary: 'Tokens: Postgres (DATABASE_URL)',
      close: async () => {
        await store.close();
        await pool.end();
      },
    };
  }
  if (env.REDIS_URL) {
    const redis = new Redis(env.REDIS_URL);
    const store = new RedisTokenStore({ client: redis });
    return {
      store,
      redis,
      summary: 'Tokens: Redis (REDIS_URL)',
      close: async () => {
        await store.close();
        redis.disconnect();
      },
    };
  }
  return {
    store: new MemoryTokenStore(),
    summary: 'Tokens: memory (set DATABASE_URL for Postgres or REDIS_URL for Redis)',
    close: async () => undefined,
  };
}

/**
 * With nothing configured: the built-in emulator and memory stores. SAMSARA_CLIENT_ID and
 * SAMSARA_CLIENT_SECRET (and SAMSARA_REGION or SAMSARA_BASE_URL) select a real Samsara;
 * DATABASE_URL keeps tokens in Postgres, or REDIS_URL in Redis (see {@link tokenStoreFromEnv}), and
 * sessions are in SESSION_REDIS_URL, else REDIS_URL (the token Redis when tokens are there). In production give sessions another Redis instance: a database number of the
 * same instance shares its maxmemory, so a flood of anonymous sessions could still crowd out tokens.
 */
export async function backendsFromEnv(env: NodeJS.ProcessEnv = process.env, mountPath = ''): Promise<Backends> {
  const emulator = env.SAMSARA_CLIENT_ID
    ? undefined
    : await startSamsaraEmulator({ port: Number(env.EMULATOR_PORT ?? 0) });
  const chosen = await tokenStoreFromEnv(env);
  const tokenRedis = chosen.redis;
  const sessionURL = env.SESSION_REDIS_URL || env.REDIS_URL;
  const redis = sessionURL && (!tokenRedis || sessionURL !== env.REDIS_URL) ? new Redis(sessionURL) : tokenRedis;
  const origin: Backends['origin'] = {};
  // Each organization's webhook, at the app's receiver: SAMSARA_WEBHOOK_URL (https) for a real
  // Samsara; on the emulator, this server's own, and a few events once an organization connects.
  const webhookURL = env.SAMSARA_WEBHOOK_URL ?? (emulator && (() => `${origin.url ?? ''}${mountPath}/webhooks`));
  const tokens = new TokenManager({
    store: chosen.store,
    ...(emulator ? { client: emulator } : {}),
    ...(webhookURL && { webhooks: organizationWebhooks({ url: webhookURL }) }),
    ...(emulator && {
      onConnect: ({ orgId }: { orgId: string }) => {
        demoEvents(emulator, orgId);
      },
    }),
  });
  return {
    tokens,
    ...(redis ? { redis } : {}),
    ...(emulator ? { emulator } : {}),
    origin,
    summary: [
      emulator
        ? `Samsara: the built-in emulator at ${emulator.baseURL}`
        : `Samsara: ${tokens.client.endpoints.baseURL} (SAMSARA_CLIENT_ID is set)`,
      webhookURL ? 'Webhooks: one per connected organization' : 'Webhooks: off (set SAMSARA_WEBHOOK_URL)',
      chosen.summary,
      redis === undefined
        ? 'Sessions: memory (set SESSION_REDIS_URL or REDIS_URL for Redis)'
        : redis === tokenRedis
          ? 'Sessions: the token Redis (REDIS_URL; set SESSION_REDIS_URL to keep them apart)'
          : 'Sessions: their own Redis (SESSION_REDIS_URL)',
    ],
    close: async () => {
      await tokens.idle();
      await chosen.close();
      if (redis !== tokenRedis) redis?.disconnect();
      await emulator?.stop();
    },
  };
}

/** Listens on HOST:PORT (default localhost:3000), prints where, and closes everything on SIGINT/SIGTERM. */
export function serve(
  app: { listen(port: number, host: string, ready: () => void): import('node:http').Server },
  backends: Backends,
  what: string,
  path = '/',
): void {
  const host = process.env.HOST ?? 'localhost';
  const server = app.listen(Number(process.env.PORT ?? 3000), host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : '?';
    backends.origin.url = `http://${host}:${port}`;
    console.log(`${what} on http://${host}:${port}${path}`);
    for (const line of backends.summary) console.log(line);
  });
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    void backends.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** What a fleet sends soon after it connects, so that the home page shows events arriving. */
function demoEvents(emulator: SamsaraEmulator, orgId: string): void {
  emulator.emitEvent(orgId, 'VehicleCreated', { vehicle: { id: '281474977075503', name: 'Demo Truck 7' } });
  emulator.emitEvent(orgId, 'RouteStopArrival', { route: { id: '342417' }, stop: { id: '21387', name: 'Depot' } });
}
