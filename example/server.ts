import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { Redis } from 'ioredis';
import { MemoryTokenStore, RedisTokenStore, TokenManager } from 'passport-samsara';
import { startSamsaraEmulator } from 'passport-samsara/testing';
import { createSamsaraApp, sessionSecret } from './app.js';

/**
 * `npm start`. With nothing configured it runs on the built-in Samsara emulator and memory stores.
 * Set SAMSARA_CLIENT_ID and SAMSARA_CLIENT_SECRET (and SAMSARA_REGION) for the real Samsara, and
 * REDIS_URL plus SAMSARA_SEALING_KEYS to keep tokens and sessions in Redis.
 */
async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const host = process.env.HOST ?? 'localhost';
  const emulated = !process.env.SAMSARA_CLIENT_ID;
  const emulator = emulated ? await startSamsaraEmulator({ port: Number(process.env.EMULATOR_PORT ?? 0) }) : undefined;
  const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : undefined;

  const tokens = new TokenManager({
    store: redis ? new RedisTokenStore({ client: redis }) : new MemoryTokenStore(),
    ...(emulator
      ? { client: { clientID: emulator.clientID, clientSecret: emulator.clientSecret, baseURL: emulator.baseURL } }
      : {}),
  });
  const app = express();
  app.use(
    createSamsaraApp({
      tokens,
      ...(redis
        ? {
            session: session({
              store: new RedisStore({ client: redis, prefix: 'example-sess:' }),
              secret: sessionSecret(),
              resave: false,
              saveUninitialized: false,
              cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto' },
            }),
          }
        : {}),
    }),
  );
  const server = app.listen(port, host, () => {
    console.log(`passport-samsara example on http://${host}:${port}/`);
    console.log(
      emulator
        ? `Samsara: the built-in emulator at ${emulator.baseURL}`
        : 'Samsara: the real one (SAMSARA_CLIENT_ID is set)',
    );
    console.log(
      redis ? 'Tokens and sessions: Redis (REDIS_URL)' : 'Tokens and sessions: memory (set REDIS_URL for Redis)',
    );
  });
  const stop = (): void => {
    server.close();
    void emulator?.stop();
    redis?.disconnect();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
