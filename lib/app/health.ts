import { randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { StoreHealth, TokenStore } from '../tokens/store.js';
import type { SamsaraAppLog } from './failure-log.js';
import type { SamsaraAppRedis } from './options.js';

/** How long `/readyz` waits for Redis's PONG. */
const PING_TIMEOUT = 1_000;

/** `GET /healthz`: the process is up and serving. */
export const healthz: RequestHandler = (_req, res) => {
  res.set('Cache-Control', 'no-store').json({ status: 'ok' });
};

/**
 * `GET /readyz`: 200 when what the app depends on answers: the token store (a ping, and for
 * `RedisTokenStore` its epoch marker) and the session Redis, when the app has one. Else 503 with
 * the reason, in words that name no host, key or token (a probe's answer may be public); while
 * the token store reports that it lost its data, one error-level line per loss goes to `log`,
 * with the store's own account of it.
 */
export function readyz(redis: SamsaraAppRedis | undefined, store: TokenStore, log: SamsaraAppLog): RequestHandler {
  let loggedLoss: number | undefined;
  return async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const [sessions, tokens] = await Promise.all([redis ? ping(redis) : undefined, healthOf(store)]);
    const checks = { ...(sessions === undefined ? {} : { redis: sessions ? 'up' : 'down' }), tokens: tokens.status };
    if (tokens.status === 'lost-data' && tokens.lostAt !== loggedLoss) {
      loggedLoss = tokens.lostAt;
      log({
        level: 'error',
        event: 'samsara-app.failure',
        kind: 'store-down',
        status: 503,
        ref: randomBytes(6).toString('hex'),
        method: req.method,
        path: req.baseUrl + req.path,
        code: 'SAMSARA_STORE_LOST',
        message: tokens.reason,
      });
    }
    const reasons = [
      sessions === false && 'the session Redis does not answer',
      tokens.status === 'unavailable' && 'the token store does not answer',
      tokens.status === 'lost-data' &&
        `the token store lost its data at ${new Date(tokens.lostAt ?? 0).toISOString()}: every organization it held must connect again`,
    ].filter((reason): reason is string => typeof reason === 'string');
    if (reasons.length === 0) {
      res.json({ status: 'ready', checks });
      return;
    }
    res
      .status(503)
      .set('Retry-After', '5')
      .json({ status: 'unavailable', checks, reason: reasons.join('; ') });
  };
}

/** The store's own account; a store without `health()` is taken to be up, one that throws to be down. */
async function healthOf(store: TokenStore): Promise<StoreHealth> {
  if (!store.health) return { status: 'ok', reason: '' };
  try {
    return await store.health();
  } catch (err) {
    return { status: 'unavailable', reason: err instanceof Error ? err.message : 'unknown error' };
  }
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
