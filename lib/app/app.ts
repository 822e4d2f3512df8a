import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { samsara } from '../express.js';
import { samsaraLogout } from '../sign-out.js';
import { numberOption } from '../options.js';
import { TokenManager } from '../tokens/manager.js';
import { AppFailure, failureHandler, stderrLog } from './failures.js';
import { healthz, readyz } from './health.js';
import { STYLESHEET } from './html.js';
import { callbackURLOf, sessionSecretOf, type SamsaraAppOptions } from './options.js';
import { homePage } from './pages.js';
import { appSession, cookieNameFor } from './session.js';
import { signInPassport, signInRoutes } from './sign-in.js';
import { vehiclesPage } from './vehicles.js';

/**
 * The Express app {@link createSamsaraApp} returns: mount it, and use `signedIn` on your own routes.
 *
 * @example
 * ```ts
 * const samsaraApp: SamsaraApp = createSamsaraApp({ tokens });
 * host.use('/integrations/samsara', samsaraApp);
 * host.get('/reports', samsaraApp.signedIn, async (req, res) => {
 *   if (!req.user) return res.redirect('/integrations/samsara/');
 *   const vehicles = await (await req.samsara.fetch('/fleet/vehicles?limit=5')).json();
 *   res.json(vehicles);
 * });
 * ```
 */
export interface SamsaraApp extends Express {
  /**
   * Middleware for the host's own routes: the app's session and passport, so that `req.user` is
   * the organization signed in through this app (`{ orgId, orgName, ... }`, or undefined), and
   * `req.samsara` calls Samsara for it. Use it after mounting the app (the cookie name follows the
   * mount path), and on routes that do not run the host's own session middleware first.
   */
  readonly signedIn: RequestHandler;
}

/**
 * A Samsara Marketplace app to mount in your Express app: Connect (also the Direct Install URL),
 * the OAuth callback, a home page with the organization and the grant's state, a paged vehicles
 * page, Disconnect, a page per failure with the next step, `/healthz` and `/readyz`. Every route
 * follows the mount point. Security headers come from helmet (a strict Content-Security-Policy
 * with `frame-ancestors 'self'`); the session cookie is `httpOnly`, `SameSite=Lax`, `secure`
 * behind HTTPS, and named after the mount path; no token ever reaches the session, a page or a
 * log line.
 *
 * Routes, relative to the mount point: `GET /` (home), `GET /auth/samsara` (Connect; register it
 * as the Direct Install URL), `GET /auth/samsara/callback` (register it as the Redirect URL),
 * `GET /vehicles?after=…`, `POST /disconnect`, `GET /healthz`, `GET /readyz`, `GET /app.css`.
 *
 * Throws `ConfigurationError` when no session secret is given (`sessionSecret` or
 * `SESSION_SECRET`) and the client is not the local emulator, or when `callbackURL` is not absolute.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { TokenManager } from 'passport-samsara';
 * import { createSamsaraApp } from 'passport-samsara/app';
 *
 * const tokens = new TokenManager(); // SAMSARA_CLIENT_ID, SAMSARA_CLIENT_SECRET from the environment
 * const app = express();
 * app.use('/integrations/samsara', createSamsaraApp({
 *   tokens,
 *   verify: async (profile) => {
 *     await accounts.upsert({ orgId: profile.id, name: profile.displayName });
 *     return { plan: 'trial' }; // joins { orgId, orgName } in the session; false refuses
 *   },
 * }));
 * app.listen(3000);
 * ```
 */
export function createSamsaraApp(options: SamsaraAppOptions = {}): SamsaraApp {
  const tokens = options.tokens ?? new TokenManager();
  const log = options.log ?? stderrLog;
  const callbackURL = callbackURLOf(options);
  const pageSize = numberOption('createSamsaraApp', 'pageSize', options.pageSize, 50, {
    min: 1,
    max: 512,
    integer: true,
  });
  const secret = options.session ? undefined : sessionSecretOf(options, tokens);
  const passport = signInPassport(tokens, options, callbackURL);
  const signIn = signInRoutes(passport, callbackURL);
  const app = express() as SamsaraApp;

  // The session middleware needs the cookie name, which follows the mount path: made on first use,
  // by which time the app is mounted.
  let cookieName = options.cookieName;
  let session: RequestHandler | undefined = options.session;
  const nameOfCookie = (): string => (cookieName ??= cookieNameFor(app.mountpath));
  const sessionOf = (): RequestHandler =>
    (session ??= appSession(nameOfCookie(), secret as string | string[], options.redis));
  const pipeline: RequestHandler[] = [
    (req, res, next) => sessionOf()(req, res, next),
    passport.initialize() as RequestHandler,
    passport.session() as RequestHandler,
    samsara({ tokens }),
  ];
  Object.defineProperty(app, 'signedIn', { value: compose(pipeline), enumerable: true });

  app.disable('x-powered-by');
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: true,
        directives: {
          'default-src': ["'self'"],
          'style-src': ["'self'"],
          'script-src': ["'none'"],
          'img-src': ["'self'"],
          'form-action': ["'self'"],
          'frame-ancestors': ["'self'"],
          // A mount on plain HTTP (development, a host behind its own TLS) must keep working.
          'upgrade-insecure-requests': null,
        },
      },
    }),
  );
  app.get('/app.css', (_req, res) => {
    res.type('css').set('Cache-Control', 'public, max-age=3600').send(STYLESHEET);
  });
  app.get('/healthz', healthz);
  app.get('/readyz', readyz(options.redis));

  app.use(...pipeline);
  app.get('/', homePage(tokens));
  app.get('/auth/samsara', signIn.start);
  app.get('/auth/samsara/callback', signIn.callback);
  app.get('/vehicles', vehiclesPage(pageSize));
  app.post('/disconnect', (req, res, next) => {
    samsaraLogout({
      tokens,
      redirect: `${req.baseUrl}/?disconnected=1`,
      cookieName: nameOfCookie(),
      trustedOrigins: options.trustedOrigins ?? [],
    })(req, res, next);
  });
  // Mounted, the app leaves other paths to its host; on its own, it answers them.
  let mounted = false;
  app.on('mount', () => {
    mounted = true;
  });
  app.use((_req, _res, next) => {
    next(mounted ? undefined : new AppFailure('not-found'));
  });
  app.use(failureHandler(log));
  return app;
}

/** Middleware run one after the other as one. */
function compose(handlers: RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    const run = (i: number, err?: unknown): void => {
      if (err !== undefined || i === handlers.length) {
        next(err);
        return;
      }
      void handlers[i](req, res, (e?: unknown) => run(i + 1, e));
    };
    run(0);
  };
}
