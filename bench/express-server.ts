/**
 * The hot path's Express stack, as a process of its own: express-session on connect-redis, a
 * passport session, `samsara()` on a RedisTokenStore (127.0.0.1:6379), listening on loopback.
 * `GET /login` signs the bench organization in; `GET /plain` answers without a token, `GET /token`
 * after `await req.samsara.accessToken()` (the credential cache on, the default) and
 * `GET /uncached` the same with `cache: false` (a store read per request). Forked by express-path.ts.
 */
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import Redis from 'ioredis';
import type { AddressInfo } from 'node:net';
import passport from 'passport';
import { RedisTokenStore, TokenManager, samsara } from 'passport-samsara';

export interface ExpressServerConfig {
  prefix: string;
  keys: string;
}

interface BenchUser {
  orgId: string;
  orgName: string;
}

function main(config: ExpressServerConfig): void {
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const store = new RedisTokenStore({ client: redis, keys: config.keys, prefix: config.prefix });
  const client = { clientID: 'bench', clientSecret: 'bench', baseURL: 'http://127.0.0.1:9' };
  const tokens = new TokenManager({ store, client });
  const uncached = new TokenManager({ store, client, cache: false });
  passport.serializeUser((user, done) => {
    done(null, user);
  });
  passport.deserializeUser((user: BenchUser, done) => {
    done(null, user);
  });
  const app = express();
  app.use(
    session({
      store: new RedisStore({ client: redis, prefix: `${config.prefix}sess:` }),
      secret: 'bench',
      resave: false,
      saveUninitialized: false,
    }),
  );
  app.use(passport.session());
  app.get('/login', (req, res, next) => {
    req.login({ orgId: '1001', orgName: 'Bench' } satisfies BenchUser, (err) => {
      if (err) {
        next(err);
        return;
      }
      res.json({ ok: true });
    });
  });
  app.get('/plain', (_req, res) => {
    res.json({ ok: true });
  });
  const withToken = async (req: express.Request, res: express.Response): Promise<void> => {
    const token = await req.samsara.accessToken();
    res.json({ ok: token.length > 0 });
  };
  app.get('/token', samsara({ tokens }), withToken);
  app.get('/uncached', samsara({ tokens: uncached }), withToken);
  const server = app.listen(0, '127.0.0.1', () => {
    process.send?.({ port: (server.address() as AddressInfo).port });
  });
  process.on('disconnect', () => {
    server.close();
    void store.close();
    redis.disconnect();
    process.exit(0);
  });
}

if (require.main === module) main(JSON.parse(process.argv[2]) as ExpressServerConfig);
