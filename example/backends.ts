import { Redis } from 'ioredis';
import { MemoryTokenStore, RedisTokenStore, TokenManager, organizationWebhooks } from 'passport-samsara';
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

/**
 * With nothing configured: the built-in emulator and memory stores. SAMSARA_CLIENT_ID and
 * SAMSARA_CLIENT_SECRET (and SAMSARA_REGION or SAMSARA_BASE_URL) select a real Samsara; REDIS_URL
 * (with SAMSARA_SEALING_KEYS) keeps tokens in Redis, and sessions too unless SESSION_REDIS_URL
 * names another one. In production give sessions another Redis instance: a database number of the
 * same instance shares its maxmemory, so a flood of anonymous sessions could still crowd out tokens.
 */
export async function backendsFromEnv(env: NodeJS.ProcessEnv = process.env, mountPath = ''): Promise<Backends> {
  const emulator = env.SAMSARA_CLIENT_ID
    ? undefined
    : await startSamsaraEmulator({ port: Number(env.EMULATOR_PORT ?? 0) });
  const tokenRedis = env.REDIS_URL ? new Redis(env.REDIS_URL) : undefined;
  const sessionURL = env.SESSION_REDIS_URL || env.REDIS_URL;
  const redis = sessionURL && sessionURL !== env.REDIS_URL ? new Redis(sessionURL) : tokenRedis;
  const store = tokenRedis ? new RedisTokenStore({ client: tokenRedis }) : new MemoryTokenStore();
  const origin: Backends['origin'] = {};
  // Each organization's webhook, at the app's receiver: SAMSARA_WEBHOOK_URL (https) for a real
  // Samsara; on the emulator, this server's own, and a few events once an organization connects.
  const webhookURL = env.SAMSARA_WEBHOOK_URL ?? (emulator && (() => `${origin.url ?? ''}${mountPath}/webhooks`));
  const tokens = new TokenManager({
    store,
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
      tokenRedis ? 'Tokens: Redis (REDIS_URL)' : 'Tokens: memory (set REDIS_URL for Redis)',
      redis === undefined
        ? 'Sessions: memory (set SESSION_REDIS_URL or REDIS_URL for Redis)'
        : redis === tokenRedis
          ? 'Sessions: the token Redis (REDIS_URL; set SESSION_REDIS_URL to keep them apart)'
          : 'Sessions: their own Redis (SESSION_REDIS_URL)',
    ],
    close: async () => {
      await tokens.idle();
      if (store instanceof RedisTokenStore) await store.close();
      tokenRedis?.disconnect();
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
