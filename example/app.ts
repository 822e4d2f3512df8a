import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import session from 'express-session';
import { Passport } from 'passport';
import {
  SamsaraStrategy,
  TokenManager,
  samsara,
  samsaraErrorHandler,
  samsaraLogout,
  type SamsaraProfile,
  type SamsaraStrategyOptions,
  type SamsaraTokenParams,
  type SamsaraUser,
  type VerifyDone,
} from 'passport-samsara';

/** Options of {@link createSamsaraApp}. */
export interface SamsaraAppOptions {
  /**
   * The token manager that owns the organizations' grants (its store, its client, its revocation
   * scope). Default: one on a `MemoryTokenStore`, with a client from the environment.
   */
  tokens?: TokenManager;
  /** SamsaraStrategy's other options (PKCE, state store...); the client is the manager's. */
  strategy?: Omit<SamsaraStrategyOptions, 'tokens' | 'clientID' | 'clientSecret' | 'region' | 'baseURL' | 'timeout'>;
  /** The session middleware. Default: express-session with its memory store (one process). */
  session?: RequestHandler;
  /**
   * Your verify: called with the organization's profile before its credentials are stored; what
   * it returns joins `{ orgId, orgName }` in the session. Return false to refuse the sign-in (and
   * keep nothing).
   */
  verify?: (profile: SamsaraProfile, req: Request) => Promise<Record<string, unknown> | false>;
}

/**
 * A Samsara Marketplace app you can mount anywhere: `parent.use('/samsara', createSamsaraApp())`.
 * Routes, relative to where it is mounted: `/` (home), `/auth/samsara` (Connect, also the Direct
 * Install URL), `/auth/samsara/callback`, `/vehicles` (the first page of the fleet), `POST /logout`.
 */
export function createSamsaraApp(options: SamsaraAppOptions = {}): express.Express {
  const passport = new Passport();
  const tokens = options.tokens ?? new TokenManager();
  const strategy = new SamsaraStrategy(
    { ...options.strategy, tokens, passReqToCallback: true },
    // Five parameters after req: passport's arity for (…, params, profile, done); this one returns
    // a promise instead of calling done.
    async (
      req: Request,
      _accessToken: string,
      _refreshToken: string,
      params: SamsaraTokenParams,
      profile: SamsaraProfile,
      _done: VerifyDone,
    ) => {
      const extra = options.verify ? await options.verify(profile, req) : {};
      // A refused organization's grant is never stored: the strategy lets it go.
      if (extra === false) return false;
      await tokens.connect(profile.id, params);
      const user: SamsaraUser = { orgId: profile.id, orgName: profile.displayName };
      return { ...extra, ...user };
    },
  );
  passport.use(strategy);
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user: Express.User, done) => done(null, user));

  const app = express();
  app.use(
    options.session ??
      session({
        secret: sessionSecret(),
        resave: false,
        saveUninitialized: false,
        cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto' },
      }),
  );
  app.use(passport.initialize());
  app.use(passport.session());
  app.use(samsara({ tokens }));

  // The callback URL follows the mount point, so the same app works at / and at /samsara.
  // (passport's AuthenticateOptions type does not list the strategy's own callbackURL option.)
  const authenticate = (req: Request, res: Response, next: NextFunction): void => {
    const options = {
      callbackURL: `${req.baseUrl}/auth/samsara/callback`,
      failureRedirect: `${req.baseUrl}/?signin=failed`,
      successRedirect: `${req.baseUrl}/`,
      // The login keeps the session's other pending sign-ins (another tab) alive.
      keepSessionInfo: true,
    };
    passport.authenticate('samsara', options)(req, res, next);
  };
  app.get('/auth/samsara', authenticate);
  app.get('/auth/samsara/callback', authenticate);

  app.get('/', (req, res) => {
    const user = req.user as SamsaraUser | undefined;
    res.type('html').send(page(req.baseUrl, user, req.query.signin === 'failed'));
  });

  app.get('/vehicles', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const response = await req.samsara.fetch('/fleet/vehicles?limit=50');
      if (!response.ok) {
        await response.body?.cancel();
        res.status(502).json({ error: { code: 'SAMSARA_API', status: response.status } });
        return;
      }
      const body = (await response.json()) as { data?: Array<{ id: string; name?: string; vin?: string }> };
      if (req.accepts(['json', 'html']) === 'json') {
        res.json(body);
        return;
      }
      const rows = (body.data ?? [])
        .map(
          (v) =>
            `<tr><td>${escapeHTML(v.id)}</td><td>${escapeHTML(v.name ?? '')}</td><td>${escapeHTML(v.vin ?? '')}</td></tr>`,
        )
        .join('');
      res
        .type('html')
        .send(
          layout(
            'Vehicles',
            `<p><a href="${req.baseUrl}/">Home</a></p><table id="vehicles"><tr><th>id</th><th>name</th><th>VIN</th></tr>${rows}</table>`,
          ),
        );
    } catch (err) {
      next(err);
    }
  });

  app.post('/logout', (req, res, next) => samsaraLogout({ tokens, redirect: `${req.baseUrl}/` })(req, res, next));
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) =>
    samsaraErrorHandler({ signInPath: `${req.baseUrl}/auth/samsara` })(err, req, res, next),
  );
  return app;
}

/** SESSION_SECRET; a fixed one only while nothing real is configured (the emulator). */
export function sessionSecret(): string {
  if (process.env.SESSION_SECRET) return process.env.SESSION_SECRET;
  if (process.env.SAMSARA_CLIENT_ID) {
    throw new Error('Set SESSION_SECRET (a long random string) to run the example against the real Samsara.');
  }
  return 'passport-samsara example on the emulator';
}

function page(base: string, user: SamsaraUser | undefined, failed: boolean): string {
  if (!user) {
    return layout(
      'passport-samsara example',
      `${failed ? '<p id="error">Sign-in failed or was denied.</p>' : ''}<p><a id="connect" href="${base}/auth/samsara">Connect Samsara</a></p>`,
    );
  }
  return layout(
    'passport-samsara example',
    `<p id="org">Signed in as <strong>${escapeHTML(user.orgName)}</strong> (organization ${escapeHTML(user.orgId)}).</p>
<p><a id="vehicles-link" href="${base}/vehicles">List vehicles</a></p>
<form method="post" action="${base}/logout"><button id="disconnect" type="submit">Disconnect</button></form>`,
  );
}

function layout(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHTML(title)}</title></head><body><h1>${escapeHTML(title)}</h1>${body}</body></html>`;
}

function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
