import express, { type Express, type Request, type RequestHandler } from 'express';
import helmet from 'helmet';
import { ConfigurationError } from '../errors/index.js';
import { samsara } from '../express.js';
import { numberOption } from '../number-option.js';
import { TokenManager } from '../tokens/manager.js';
import { serveAccount, serveOwn, servedOf, type SamsaraAppAccount } from './account.js';
import { keyringOf, sessionBinding } from './binding.js';
import { brandOf } from './brand.js';
import { confirmDisconnectPage, disconnect, signOut } from './disconnect.js';
import { RecentEvents, appWebhooks } from './events.js';
import { failureHandler } from './failure-handler.js';
import { AppFailure } from './failure-kinds.js';
import { stderrLog } from './failure-log.js';
import { healthz, readyz } from './health.js';
import { FAVICON, STYLESHEET } from './html.js';
import { callbackURLOf, sessionSecretOf, type SamsaraAppOptions } from './options.js';
import { homePage } from './pages.js';
import { appSession, cookieNameFor } from './session.js';
import { signInPassport, signInRoutes } from './sign-in.js';
import { vehiclesPage } from './vehicles.js';

/**
 * The Express app {@link createSamsaraApp} returns: mount it, and use `loadSession` on your own routes.
 *
 * @example
 * ```ts
 * const samsaraApp: SamsaraApp = createSamsaraApp({ tokens });
 * host.use('/integrations/samsara', samsaraApp);
 * host.get('/reports', samsaraApp.loadSession, async (req, res) => {
 *   if (req.samsara.key === undefined) return res.redirect('/integrations/samsara/');
 *   const vehicles = await (await req.samsara.fetch('/fleet/vehicles?limit=5')).json();
 *   res.json(vehicles);
 * });
 * ```
 */
export interface SamsaraApp extends Express {
  /**
   * Middleware for your own routes: it loads the app's session (with `account`: finds the
   * organization your account connected), so that `req.samsara` calls Samsara for that
   * organization and `req.samsara.key` names it (undefined when none). It requires nothing: check
   * `req.samsara.key` yourself. In the app's own session `req.user` is the organization
   * (`{ orgId, orgName, ... }`). Use it after mounting the app (the cookie name follows the mount
   * path), on routes that do not run your own session middleware first (with `account`, after it).
   */
  readonly loadSession: RequestHandler;
  /** @deprecated Renamed `loadSession`: it loads the session, it does not require a sign-in. */
  readonly signedIn: RequestHandler;
}

/**
 * A Samsara Marketplace app to mount in your Express app, for your customer's admin: Connect (also
 * the Direct Install URL), the OAuth callback, a home page that says whether Samsara is connected,
 * which organization and since when (the grant's details behind a disclosure), a paged vehicles
 * page, Sign out, Disconnect (confirmed on a page of its own), a page per failure with the next
 * step, `/healthz` and `/readyz`. Every route follows the mount point. Security headers come from
 * helmet (a strict Content-Security-Policy with `frame-ancestors 'self'`); the session cookie is
 * `httpOnly`, `SameSite=Lax`, `secure` behind HTTPS, and named after the mount path; the session's
 * organization is sealed; no token ever reaches the session, a page or a log line.
 *
 * Two ways to run: on its own sessions, where signing in with Samsara is the login (the default);
 * or, with `account`, inside an app with its own login, where the organization is connected to
 * your signed-in user's account.
 *
 * Routes, relative to the mount point: `GET /` (home), `GET /auth/samsara` (Connect; register it
 * as the Direct Install URL), `GET /auth/samsara/callback` (register it as the Redirect URL),
 * `GET /vehicles?after=…`, `GET /disconnect` (the confirmation), `POST /disconnect`,
 * `POST /sign-out`, `GET /healthz`, `GET /readyz`, `GET /app.css`, `GET /favicon.ico`, and
 * `POST /webhooks` (Samsara's deliveries) when the manager keeps the organizations' webhooks.
 *
 * @param options - the manager, your `verify`, `account`, `brand`, hooks, secrets and stores.
 * @returns the Express app to mount (`host.use(path, app)`), with `loadSession` for your own routes.
 * @throws `ConfigurationError` when no session secret is given (`sessionSecret` or
 * `SESSION_SECRET`), or no sealing key (`sealingKeys` or `SAMSARA_SEALING_KEYS`, unless `account`),
 * and the client is not the local emulator; when `callbackURL` is not absolute; when `brand` or
 * `account` is malformed.
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
 *   brand: { name: 'Acme Dispatch', home: { href: '/', label: 'Back to Acme Dispatch' } },
 *   verify: async (profile) => ({ plan: 'trial' }), // joins { orgId, orgName } in the session; false refuses
 *   onDisconnect: ({ orgId }) => accounts.markDisconnected(orgId),
 * }));
 * app.listen(3000);
 * ```
 */
export function createSamsaraApp(options: SamsaraAppOptions = {}): SamsaraApp {
  const hooks = {
    ...(options.onConnect && { onConnect: options.onConnect }),
    ...(options.onDisconnect && { onDisconnect: options.onDisconnect }),
    ...(options.onReauthorizationRequired && { onReauthorizationRequired: options.onReauthorizationRequired }),
  };
  const tokens = options.tokens ?? new TokenManager(hooks);
  if (options.tokens && Object.keys(hooks).length > 0) tokens.addHooks(hooks);
  const log = options.log ?? stderrLog;
  const brand = brandOf(options.brand);
  const account = accountOf(options.account);
  const callbackURL = callbackURLOf(options);
  const pageSize = numberOption('createSamsaraApp', 'pageSize', options.pageSize, 50, {
    min: 1,
    max: 512,
    integer: true,
  });
  const secret = options.session ? undefined : sessionSecretOf(options, tokens);
  const app = express() as SamsaraApp;

  // The session middleware needs the cookie name, which follows the mount path: made on first use,
  // by which time the app is mounted.
  let cookieName = options.cookieName;
  let session: RequestHandler | undefined = options.session;
  const nameOfCookie = (): string => (cookieName ??= cookieNameFor(app.mountpath));
  const sessionOf = (): RequestHandler =>
    (session ??= appSession(nameOfCookie(), secret as string | string[], options.redis, account !== undefined));
  const binding = account ? undefined : sessionBinding(keyringOf(options, tokens), nameOfCookie);
  const passport = signInPassport(tokens, options, callbackURL, binding);
  const signIn = signInRoutes(passport, callbackURL, account);
  const key = (req: Request): string | undefined => servedOf(req).connection?.orgId;
  const pipeline: RequestHandler[] = [
    (req, res, next) => sessionOf()(req, res, next),
    ...(account
      ? [serveAccount(account)]
      : [passport.initialize() as RequestHandler, passport.session() as RequestHandler, serveOwn]),
    samsara({ tokens, key }),
  ];
  const loadSession = compose(pipeline);
  Object.defineProperty(app, 'loadSession', { value: loadSession, enumerable: true });
  Object.defineProperty(app, 'signedIn', { value: loadSession, enumerable: false });

  app.disable('x-powered-by');
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: true,
        directives: {
          'default-src': ["'self'"],
          'style-src': ["'self'", ...brand.styleSources],
          'script-src': ["'none'"],
          'img-src': ["'self'", ...brand.imgSources],
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
  app.get('/favicon.ico', (_req, res) => {
    res.type('image/svg+xml').set('Cache-Control', 'public, max-age=86400').send(FAVICON);
  });
  app.get('/healthz', healthz);
  app.get('/readyz', readyz(options.redis, tokens.store, log));
  // Before the session and any body parser: Samsara's deliveries carry no cookie, and their raw body is signed.
  const recent = tokens.webhooks ? new RecentEvents() : undefined;
  if (recent) app.post('/webhooks', appWebhooks(tokens, recent, options.webhookHandlers));

  const leave = { tokens, brand, account, trustedOrigins: options.trustedOrigins ?? [], cookieName: nameOfCookie };
  app.use(...pipeline);
  app.get('/', homePage(tokens, brand, account !== undefined, recent));
  app.get('/auth/samsara', signIn.start);
  app.get('/auth/samsara/callback', signIn.callback);
  app.get('/vehicles', vehiclesPage(pageSize, brand));
  app.get('/disconnect', confirmDisconnectPage(leave));
  app.post('/disconnect', disconnect(leave));
  if (!account) app.post('/sign-out', signOut(leave));
  // Mounted, the app leaves other paths to its host; on its own, it answers them.
  let mounted = false;
  app.on('mount', () => {
    mounted = true;
  });
  app.use((_req, _res, next) => {
    next(mounted ? undefined : new AppFailure('not-found'));
  });
  app.use(failureHandler(log, { brand, signInURL: account?.signInURL }));
  return app;
}

/** The `account` option, checked: a misspelt method would otherwise fail on the first request. */
function accountOf(account: SamsaraAppAccount | undefined): SamsaraAppAccount | undefined {
  if (account === undefined) return undefined;
  for (const method of ['id', 'connection', 'connect', 'disconnect'] as const) {
    if (typeof account[method] !== 'function') {
      throw new ConfigurationError(`createSamsaraApp option account.${method} must be a function.`);
    }
  }
  if (typeof account.signInURL !== 'string' || account.signInURL === '') {
    throw new ConfigurationError('createSamsaraApp option account.signInURL must be the path of your sign-in page.');
  }
  return account;
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
