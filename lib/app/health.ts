import type { RequestHandler } from 'express';
import type { SamsaraAppRedis } from './options.js';

/** How long `/readyz` waits for Redis's PONG. */
const PING_TIMEOUT = 1_000;

/** `GET /healthz`: the process is up and serving. */
export const healthz: RequestHandler = (_req, res) => {
  res.set('Cache-Control', 'no-store').json({ status: 'ok' });
};

/** `GET /readyz`: 200 when what the app depends on answers (Redis, when it has one), else 503. */
export function readyz(redis: SamsaraAppRedis | undefined): RequestHandler {
  return async (_req, res) => {
    res.set('Cache-Control', 'no-store');
    if (!redis) {
      res.json({ status: 'ready', checks: {} });
      return;
    }
    const up = await ping(redis);
    if (up) {
      res.json({ status: 'ready', checks: { redis: 'up' } });
      return;
    }
    res
      .status(503)
      .set('Retry-After', '5')
      .json({ status: 'unavailable', checks: { redis: 'down' } });
  };
}

async function ping(redis: SamsaraAppRedis): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), PING_TIMEOUT);
  });
  try {
    return await Promise.race([redis.ping().then((answer) => answer === 'PONG'), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
