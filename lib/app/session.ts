import { createRequire } from 'node:module';
import type { RequestHandler } from 'express';
import session from 'express-session';
import { ConfigurationError } from '../errors/index.js';
import type { SamsaraAppRedis } from './options.js';

/**
 * The cookie name of a mount: `samsara.sid` at the root, the mount path spelled into it elsewhere
 * (`/integrations/samsara` -> `samsara.integrations.samsara.sid`), so two mounts in one host keep
 * two sessions instead of overwriting one cookie.
 */
export function cookieNameFor(mountpath: string | string[]): string {
  const path = Array.isArray(mountpath) ? mountpath.join('.') : mountpath;
  // RFC 6265 cookie names are tokens: letters, digits and a few marks; '/' becomes '.'.
  const spelled = path
    .replace(/\//g, '.')
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\.+|\.+$/g, '');
  return spelled === '' ? 'samsara.sid' : `samsara.${spelled}.sid`;
}

/** The app's own session: express-session, in Redis when the app has one. */
export function appSession(
  name: string,
  secret: string | string[],
  redis: SamsaraAppRedis | undefined,
): RequestHandler {
  const store = redis ? redisSessionStore(redis) : new session.MemoryStore();
  const own = session({
    name,
    secret,
    store,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: 12 * 3_600_000 },
  });
  return (req, res, next) => {
    if (req.sessionStore === store) {
      next(); // already through it (a host route behind the app's own)
      return;
    }
    // express-session leaves a request alone when a session is already on it: the host's own,
    // which the app would then share (and overwrite) without a word. Refuse instead.
    if ((req as { session?: unknown }).session !== undefined) {
      next(
        new ConfigurationError(
          "A session is already on the request when the Samsara app runs: mount the app before the host's session middleware, or pass that middleware as the app's session option.",
        ),
      );
      return;
    }
    own(req, res, next);
  };
}

/**
 * connect-redis 8's store, loaded only when Redis sessions are asked for: connect-redis is an
 * optional peer dependency that an app on memory sessions need not install.
 */
function redisSessionStore(client: SamsaraAppRedis): session.Store {
  let module: typeof import('connect-redis');
  try {
    module = createRequire(__filename)('connect-redis') as typeof import('connect-redis');
  } catch (err) {
    throw new ConfigurationError(
      `Redis sessions need connect-redis 8 (npm install connect-redis@8): ${(err as Error).message}`,
    );
  }
  return new module.RedisStore({ client, prefix: 'samsara-sess:' });
}
