import { createRequire } from 'node:module';
import type { RequestHandler } from 'express';
import session from 'express-session';
import { ConfigurationError } from '../errors/index.js';
import type { SamsaraAppRedis } from './options.js';

/**
 * The cookie name of a mount: `samsara.sid` at the root, the mount path spelled into it elsewhere
 * (`/integrations/samsara` -> `samsara.integrations.samsara.sid`), so two mounts in one host keep
 * two sessions instead of overwriting one cookie. The spelling is injective: '/' becomes '.', a
 * letter, digit or '-' stays, and any other character (a '.' or '_' of the path included) becomes
 * `_` and its UTF-8 bytes in hex, so `/integrations.samsara` is `samsara.integrations_2esamsara.sid`.
 */
export function cookieNameFor(mountpath: string | string[]): string {
  const paths = Array.isArray(mountpath) ? mountpath : [mountpath];
  // RFC 6265 cookie names are tokens: letters, digits and a few marks, '+' among them.
  const spelled = paths.map((path) => spell(path.replace(/^\/+|\/+$/g, ''))).join('+');
  return spelled === '' ? 'samsara.sid' : `samsara.${spelled}.sid`;
}

/** The path's UTF-8 bytes, each kept, turned into '.' ('/'), or spelled `_hh`: one way back for every name. */
function spell(path: string): string {
  let spelled = '';
  for (const byte of Buffer.from(path, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (c === '/') spelled += '.';
    else if (/^[A-Za-z0-9-]$/.test(c)) spelled += c;
    else spelled += `_${byte.toString(16).padStart(2, '0')}`;
  }
  return spelled;
}

/**
 * The app's own session: express-session, in Redis when the app has one, under a key prefix of
 * the mount's own (`samsara-sess:<cookie name>:`). Two mounts signed with one secret then never
 * share a session: another mount's cookie value, sent under this mount's name, names no session here.
 * With `host: true` a session already on the request (the host's own) is used as it is.
 */
export function appSession(
  name: string,
  secret: string | string[],
  redis: SamsaraAppRedis | undefined,
  host = false,
): RequestHandler {
  const store = redis ? redisSessionStore(redis, `samsara-sess:${name}:`) : new session.MemoryStore();
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
      if (host) {
        next();
        return;
      }
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
function redisSessionStore(client: SamsaraAppRedis, prefix: string): session.Store {
  let module: typeof import('connect-redis');
  try {
    module = createRequire(__filename)('connect-redis') as typeof import('connect-redis');
  } catch (err) {
    throw new ConfigurationError(
      `Redis sessions need connect-redis 8 (npm install connect-redis@8): ${(err as Error).message}`,
    );
  }
  return new module.RedisStore({ client, prefix });
}
