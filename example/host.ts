import { randomBytes } from 'node:crypto';
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler } from 'express';
import session from 'express-session';
import { Passport, Strategy } from 'passport';
import { samsaraErrorHandler, samsaraSignOut, type TokenManager } from 'passport-samsara';
import {
  createSamsaraApp,
  type SamsaraAppAccount,
  type SamsaraAppLog,
  type SamsaraAppRedis,
  type SamsaraConnection,
} from 'passport-samsara/app';
import { backendsFromEnv, serve } from './backends.js';

/** A customer of the host: a company, with its users and the Samsara organization it connected. */
export interface Account {
  id: string;
  name: string;
  /** The organization connected, and what the lifecycle hooks last said of it. */
  samsara?: SamsaraConnection & { status: 'connected' | 'disconnected' | 'reconnect needed' };
}

/** A user of the host: the host's own login, nothing to do with Samsara. */
export interface HostUser {
  email: string;
  name: string;
  accountId: string;
}

/** Where the host mounts the Samsara app. */
export const MOUNT = '/integrations/samsara';

/** The host's demo users: two at Charlie's, one at Acme Freight (a demo login, no passwords). */
export const USERS: readonly HostUser[] = [
  { email: 'dana@charlies.test', name: 'Dana (admin)', accountId: 'charlies' },
  { email: 'sam@charlies.test', name: 'Sam (dispatcher)', accountId: 'charlies' },
  { email: 'lee@acme-freight.test', name: 'Lee', accountId: 'acme-freight' },
];

const LOGO = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 32"><rect width="64" height="32" rx="6" fill="#1f6f43"/><text x="32" y="21" font-family="sans-serif" font-size="14" font-weight="700" fill="#fff" text-anchor="middle">ACME</text></svg>`;

/**
 * A host project ("Acme Dispatch") with its own login. A customer's admin signs in to Acme
 * Dispatch, then connects the company's Samsara organization to the company's account through
 * the mounted app (`account` option); every user of that account then benefits. The lifecycle
 * hooks keep the accounts table's Samsara status true (Disconnect, an uninstall found at the next
 * refresh). `/fleet-summary` calls Samsara for the signed-in user's account.
 */
export function createHost(options: {
  tokens: TokenManager;
  redis?: SamsaraAppRedis;
  log?: SamsaraAppLog;
  sessionSecret?: string;
}): { app: Express; accounts: Map<string, Account> } {
  const accounts = new Map<string, Account>([
    ['charlies', { id: 'charlies', name: "Charlie's Dining Services" }],
    ['acme-freight', { id: 'acme-freight', name: 'Acme Freight' }],
  ]);
  const byOrg = (orgId: string): Account[] => [...accounts.values()].filter((a) => a.samsara?.orgId === orgId);
  const mark = (orgId: string, status: NonNullable<Account['samsara']>['status']): void => {
    for (const account of byOrg(orgId)) if (account.samsara) account.samsara.status = status;
  };

  // The host's own login: its passport, its session, its users.
  const passport = new Passport();
  passport.use('demo', new DemoLogin());
  passport.serializeUser<string>((user, done) => done(null, (user as HostUser).email));
  passport.deserializeUser<string>((email, done) => done(null, USERS.find((u) => u.email === email) ?? false));

  const account: SamsaraAppAccount = {
    id: (req) => (req.user as HostUser | undefined)?.accountId,
    connection: (accountId) => {
      const samsara = accounts.get(accountId)?.samsara;
      return samsara?.status === 'disconnected' ? undefined : samsara;
    },
    connect: (accountId, connection) => {
      const row = accounts.get(accountId);
      if (row) row.samsara = { ...connection, status: 'connected' };
    },
    disconnect: (accountId) => {
      const row = accounts.get(accountId);
      if (row?.samsara) row.samsara.status = 'disconnected';
    },
    signInURL: '/login',
  };
  const samsaraApp = createSamsaraApp({
    tokens: options.tokens,
    ...(options.redis ? { redis: options.redis } : {}),
    ...(options.log ? { log: options.log } : {}),
    sessionSecret: options.sessionSecret ?? SECRET,
    account,
    brand: { name: 'Acme Dispatch', logo: '/logo.svg', home: { href: '/', label: 'Back to Acme Dispatch' } },
    // Fleet-wide truth, whichever process or job saw it: every account on that organization.
    onDisconnect: ({ orgId }) => mark(orgId, 'disconnected'),
    onReauthorizationRequired: ({ orgId }) => mark(orgId, 'reconnect needed'),
  });

  const app = express();
  app.disable('x-powered-by');
  app.use(
    session({
      name: 'acme.sid',
      secret: options.sessionSecret ?? SECRET,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto' },
    }),
  );
  app.use(passport.session());
  app.use(express.urlencoded({ extended: false }));
  app.use(MOUNT, samsaraApp);
  app.get('/logo.svg', (_req, res) => {
    res.type('image/svg+xml').send(LOGO);
  });
  app.get('/login', (_req, res) => {
    const options = USERS.map((u) => `<option value="${u.email}">${u.name}: ${u.email}</option>`).join('');
    res.type('html')
      .send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in · Acme Dispatch</title></head>
<body><h1>Sign in to Acme Dispatch</h1><form method="post" action="/login"><label>User <select id="email" name="email">${options}</select></label>
<button id="sign-in" type="submit">Sign in</button></form></body></html>`);
  });
  app.post(
    '/login',
    passport.authenticate('demo', { failureRedirect: '/login', successRedirect: '/' }) as RequestHandler,
  );
  app.post('/logout', samsaraSignOut({ cookieName: 'acme.sid', redirect: '/' }));
  app.get('/', (req, res) => {
    const user = req.user as HostUser | undefined;
    if (!user) {
      res.redirect(303, '/login');
      return;
    }
    const row = accounts.get(user.accountId);
    const status = row?.samsara ? `${row.samsara.status}: ${row.samsara.orgName}` : 'not connected';
    res.type('html')
      .send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme Dispatch</title></head>
<body><h1>Acme Dispatch</h1><p id="who">${user.name}, ${row?.name ?? user.accountId}</p>
<p>Samsara: <span id="samsara-status">${status}</span></p><ul>
<li><a id="integration" href="${MOUNT}/">Samsara integration</a></li>
<li><a id="summary" href="/fleet-summary">Fleet summary</a> (JSON, from Samsara)</li>
<li><a href="/accounts">Accounts</a> (JSON)</li>
</ul><form method="post" action="/logout"><button id="logout" type="submit">Sign out of Acme Dispatch</button></form></body></html>`);
  });
  app.get('/accounts', (_req, res) => {
    res.json([...accounts.values()]);
  });
  app.get('/fleet-summary', samsaraApp.loadSession, async (req, res) => {
    if (req.samsara.key === undefined) {
      res.redirect(303, req.user ? `${MOUNT}/` : '/login');
      return;
    }
    const response = await req.samsara.fetch('/fleet/vehicles?limit=5');
    const page = (await response.json()) as { data?: Array<{ id: string; name?: string }> };
    res.json({
      account: (req.user as HostUser).accountId,
      orgId: req.samsara.key,
      vehicles: (page.data ?? []).map((v) => v.name ?? v.id),
    });
  });
  app.use(samsaraErrorHandler({ signInPath: `${MOUNT}/auth/samsara` }));
  // The host's last word: no stack trace, no error text.
  const last: ErrorRequestHandler = (_err, _req, res, _next) => {
    res.status(500).json({ error: { code: 'HOST_ERROR', message: 'Something went wrong.' } });
  };
  app.use(last);
  return { app, accounts };
}

/** The demo's login: whichever listed user the form names, no password (a real host has its own). */
class DemoLogin extends Strategy {
  override authenticate(req: Request): void {
    const email = (req.body as { email?: unknown } | undefined)?.email;
    const user = USERS.find((u) => u.email === email);
    if (user) this.success(user);
    else this.fail({ message: 'Unknown user' }, 401);
  }
}

/** A demo's session secret, per process, unless SESSION_SECRET is set. */
const SECRET = process.env.SESSION_SECRET ?? randomBytes(32).toString('base64url');

/** `npm run example:host`: the host on the environment's backends (see backends.ts). */
async function main(): Promise<void> {
  const backends = await backendsFromEnv(process.env, MOUNT);
  const { app } = createHost({ tokens: backends.tokens, ...(backends.redis ? { redis: backends.redis } : {}) });
  serve(app, backends, 'Acme Dispatch (host example)');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? `${err.name}: ${err.message}` : 'start-up failed');
    process.exit(1);
  });
}
