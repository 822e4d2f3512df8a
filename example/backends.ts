import { Redis } from 'ioredis';
import { MemoryTokenStore, RedisTokenStore, TokenManager } from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';

/** What the example servers run on, chosen by the environment. */
export interface Backends {
  tokens: TokenManager;
  /** Set with REDIS_URL: sessions and tokens live there. */
  redis?: Redis;
  /** Started when SAMSARA_CLIENT_ID is unset: a local Samsara in this process. */
  emulator?: SamsaraEmulator;
  /** What was chosen, one line each, for the start-up banner (no secret in any of them). */
  summary: string[];
  close(): Promise<void>;
}

/**
 * With nothing configured: the built-in emulator and memory stores. SAMSARA_CLIENT_ID and
 * SAMSARA_CLIENT_SECRET (and SAMSARA_REGION or SAMSARA_BASE_URL) select a real Samsara; REDIS_URL
 * (with SAMSARA_SEALING_KEYS) keeps tokens and sessions in Redis.
 */
export async function backendsFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Backends> {
  const emulator = env.SAMSARA_CLIENT_ID
    ? undefined
    : await startSamsaraEmulator({ port: Number(env.EMULATOR_PORT ?? 0) });
  const redis = env.REDIS_URL ? new Redis(env.REDIS_URL) : undefined;
  const store = redis ? new RedisTokenStore({ client: redis }) : new MemoryTokenStore();
  const tokens = new TokenManager({ store, ...(emulator ? { client: emulator } : {}) });
  return {
    tokens,
    ...(redis ? { redis } : {}),
    ...(emulator ? { emulator } : {}),
    summary: [
      emulator
        ? `Samsara: the built-in emulator at ${emulator.baseURL}`
        : `Samsara: ${tokens.client.endpoints.baseURL} (SAMSARA_CLIENT_ID is set)`,
      redis ? 'Tokens and sessions: Redis (REDIS_URL)' : 'Tokens and sessions: memory (set REDIS_URL for Redis)',
    ],
    close: async () => {
      await tokens.idle();
      if (store instanceof RedisTokenStore) await store.close();
      redis?.disconnect();
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
