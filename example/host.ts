import express, { type ErrorRequestHandler, type Express } from 'express';
import { samsaraErrorHandler, type SamsaraProfile, type SamsaraUser, type TokenManager } from 'passport-samsara';
import { createSamsaraApp, type SamsaraAppLog, type SamsaraAppRedis } from 'passport-samsara/app';
import { backendsFromEnv, serve } from './backends.js';

/** A row of the host's own table of accounts: what it knows of each connected organization. */
export interface Account {
  orgId: string;
  name: string;
  plan: string;
  connectedAt: string;
}

/** Where the host mounts the Samsara app. */
export const MOUNT = '/integrations/samsara';

/**
 * A host project ("Acme Dispatch") that mounts the Samsara app under a sub-path. Its verify writes
 * the organization into its own accounts table; its `/fleet-summary` page calls Samsara for the
 * organization signed in through the app.
 */
export function createHost(options: { tokens: TokenManager; redis?: SamsaraAppRedis; log?: SamsaraAppLog }): {
  app: Express;
  accounts: Map<string, Account>;
} {
  const accounts = new Map<string, Account>();
  const samsaraApp = createSamsaraApp({
    ...options,
    verify: async (profile: SamsaraProfile) => {
      const known = accounts.get(profile.id);
      const account = {
        orgId: profile.id,
        name: profile.displayName,
        plan: known?.plan ?? 'trial',
        connectedAt: new Date().toISOString(),
      };
      accounts.set(profile.id, account);
      return { plan: account.plan };
    },
  });

  const app = express();
  app.disable('x-powered-by');
  app.use(MOUNT, samsaraApp);
  app.get('/', (_req, res) => {
    res.type('html')
      .send(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acme Dispatch</title></head>
<body><h1>Acme Dispatch</h1><ul>
<li><a id="integration" href="${MOUNT}/">Samsara integration</a></li>
<li><a id="summary" href="/fleet-summary">Fleet summary</a> (JSON, from Samsara)</li>
<li><a href="/accounts">Accounts</a> (JSON)</li>
</ul></body></html>`);
  });
  app.get('/accounts', (_req, res) => {
    res.json([...accounts.values()]);
  });
  app.get('/fleet-summary', samsaraApp.signedIn, async (req, res) => {
    const user = req.user as (SamsaraUser & { plan?: string }) | undefined;
    if (!user) {
      res.redirect(303, `${MOUNT}/`);
      return;
    }
    const response = await req.samsara.fetch('/fleet/vehicles?limit=5');
    const page = (await response.json()) as { data?: Array<{ id: string; name?: string }> };
    res.json({
      account: accounts.get(user.orgId) ?? null,
      plan: user.plan ?? null,
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

/** `npm run example:host`: the host on the environment's backends (see backends.ts). */
async function main(): Promise<void> {
  const backends = await backendsFromEnv();
  const { app } = createHost({ tokens: backends.tokens, ...(backends.redis ? { redis: backends.redis } : {}) });
  serve(app, backends, 'Acme Dispatch (host example)');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? `${err.name}: ${err.message}` : 'start-up failed');
    process.exit(1);
  });
}
