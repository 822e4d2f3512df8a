import { expect } from 'chai';
import express, { type RequestHandler } from 'express';
import session from 'express-session';
import type { Server } from 'node:http';
import { Passport, Strategy } from 'passport';
import request from 'supertest';
import {
  SamsaraStrategy,
  TokenManager,
  samsara,
  samsaraDisconnect,
  samsaraErrorHandler,
  type DisconnectEvent,
} from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { closeServer, listenLocal } from './support/browser.js';
import { clientOf } from './support/grants.js';

/** The host's users: two in one account. */
const USERS = { dana: { id: 'dana', accountId: 'charlies' }, sam: { id: 'sam', accountId: 'charlies' } };

/** The host's own login: `?as=<user>`, no password (the test's stand-in for passport-local). */
class TestLogin extends Strategy {
  override authenticate(req: express.Request): void {
    const as = typeof req.query.as === 'string' ? req.query.as : '';
    const user = Object.hasOwn(USERS, as) ? USERS[as as keyof typeof USERS] : undefined;
    if (user) this.success(user);
    else this.fail(401);
  }
}

/**
 * docs/express.md's "app with its own login", as running code: passport.authorize attaches the organization
 * to the signed-in user's account, samsara({ key }) reads it from there, Disconnect keeps the user.
 */
describe('an app with its own login: passport.authorize attaches the organization to the account', () => {
  let emulator: SamsaraEmulator;
  let tokens: TokenManager;
  let server: Server;
  let url: string;
  let samsaraOrgOf: Map<string, string>;
  let disconnects: DisconnectEvent[];

  beforeEach(async () => {
    emulator = await startSamsaraEmulator({ autoApprove: true });
    samsaraOrgOf = new Map();
    disconnects = [];
    tokens = new TokenManager({
      client: clientOf(emulator),
      onDisconnect: (event) => {
        disconnects.push(event);
        for (const [accountId, orgId] of samsaraOrgOf) if (orgId === event.orgId) samsaraOrgOf.delete(accountId);
      },
    });
    const passport = new Passport();
    passport.use('local', new TestLogin());
    passport.use(
      new SamsaraStrategy({
        tokens,
        verify: async ({ profile, req }) => {
          const user = req.user as { accountId: string } | undefined;
          if (!user) return false;
          samsaraOrgOf.set(user.accountId, profile.id);
          return { orgId: profile.id, orgName: profile.displayName };
        },
      }),
    );
    passport.serializeUser((user, done) => done(null, (user as { id: string }).id));
    passport.deserializeUser((id: string, done) => done(null, USERS[id as keyof typeof USERS]));

    const app = express();
    app.use(session({ secret: 'host secret', resave: false, saveUninitialized: false }));
    app.use(passport.initialize());
    app.use(passport.session());
    const accountOf = (req: express.Request): string | undefined => {
      const user: { accountId?: string } | undefined = req.user;
      return user?.accountId;
    };
    app.use(samsara({ tokens, key: async (req) => samsaraOrgOf.get(accountOf(req) ?? '') }));
    const signedIn: RequestHandler = (req, res, next) => (req.user ? next() : res.redirect('/login'));
    app.get('/login', passport.authenticate('local'), (_req, res) => res.redirect('/'));
    app.get('/connect/samsara', signedIn, passport.authorize('samsara'));
    app.get(
      '/auth/samsara/callback',
      signedIn,
      passport.authorize('samsara', { failureRedirect: '/settings' }),
      (req, res) => {
        res.json({ user: req.user, account: (req as { account?: unknown }).account });
      },
    );
    app.get('/vehicles', async (req, res, next) => {
      try {
        const response = await req.samsara.fetch('/fleet/vehicles?limit=2');
        res.json({
          user: req.user,
          org: req.samsara.key,
          count: ((await response.json()) as { data: unknown[] }).data.length,
        });
      } catch (err) {
        next(err);
      }
    });
    app.post(
      '/disconnect',
      signedIn,
      samsaraDisconnect({
        tokens,
        key: (req) => samsaraOrgOf.get(accountOf(req) ?? ''),
        signOut: false,
        redirect: '/settings',
      }),
    );
    app.use(samsaraErrorHandler({ signInPath: '/connect/samsara' }));
    ({ server, url } = await listenLocal(app));
  });
  afterEach(async () => {
    await closeServer(server);
    await emulator.stop();
  });

  async function logIn(as: keyof typeof USERS): Promise<ReturnType<typeof request.agent>> {
    const agent = request.agent(url);
    await agent.get(`/login?as=${as}`).expect(302);
    return agent;
  }

  it('connects the organization to the account; the user stays who they were; every user of the account is served', async () => {
    const dana = await logIn('dana');
    const start = await dana.get('/connect/samsara').expect(302);
    const approved = await fetch(start.headers.location, { redirect: 'manual' });
    const callback = new URL(approved.headers.get('location')!);
    const res = await dana.get(callback.pathname + callback.search).expect(200);
    expect(res.body.user, 'req.user is still the host user').to.deep.equal(USERS.dana);
    expect(res.body.account).to.deep.equal({ orgId: '1001', orgName: "Charlie's Dining Services" });
    expect(samsaraOrgOf.get('charlies')).to.equal('1001');
    expect(emulator.grantStatus((await tokens.credentials('1001')).refreshToken), 'the grant is kept').to.equal(
      'active',
    );

    const sam = await logIn('sam');
    const served = await sam.get('/vehicles').set('accept', 'application/json').expect(200);
    expect(served.body).to.deep.equal({ user: USERS.sam, org: '1001', count: 2 });

    // Disconnect: revoked, the account's record cleared by onDisconnect, Dana still signed in.
    await dana.post('/disconnect').set('origin', url).expect(303).expect('location', '/settings');
    expect(emulator.activeGrants('1001')).to.equal(0);
    expect(disconnects).to.deep.equal([{ orgId: '1001', reason: 'revoked', grants: 1 }]);
    expect(samsaraOrgOf.size).to.equal(0);
    const after = await dana.get('/vehicles').set('accept', 'application/json').expect(401);
    expect(after.body.error.code).to.equal('SAMSARA_REAUTHORIZE');
    await dana.get('/connect/samsara').expect(302); // still signed in: Connect, not the login page
  });

  it('nobody signed in to the host connects nothing: the callback is refused before any code exchange', async () => {
    const stranger = request.agent(url);
    await stranger.get('/connect/samsara').expect(302).expect('location', '/login');
    await stranger.get('/auth/samsara/callback?code=abc&state=xyz').expect(302).expect('location', '/login');
    expect(emulator.counters.tokenRequests).to.equal(0);
  });
});
