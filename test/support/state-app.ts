import express from 'express';
import session from 'express-session';
import { Passport, type AuthenticateOptions } from 'passport';
import OAuth2Strategy from 'passport-oauth2';
import request from 'supertest';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SessionStateStore } from 'passport-samsara';

/** One code exchange the strategy asked for: which code, with which PKCE verifier. */
export interface Exchange {
  code: string;
  codeVerifier: string | undefined;
}

/** An Express app around passport-oauth2's own OAuth2Strategy, with a state store under test. */
export interface StateApp {
  agent: ReturnType<typeof request.agent>;
  sessions: session.MemoryStore;
  /** Every code exchange, in order. No exchange means the state check stopped the callback. */
  exchanges: Exchange[];
  /** Starts a sign-in carrying `label` as its app state; answers the authorize URL it redirects to. */
  start(label: string): Promise<URL>;
  /** The callback for a code and a state; the JSON says what passport decided. */
  callback(code: string, state: string | null): request.Test;
  /** Every session's JSON, as the session store holds it. */
  sessionDump(): string;
  close(): Promise<void>;
}

export interface StateAppOptions {
  pkce?: boolean;
  /**
   * passport's login regenerates the session; without this it drops the other pending sign-ins.
   * Default true.
   */
  keepSessionInfo?: boolean;
}

/**
 * The code exchange never leaves the process: the strategy's node-oauth client is replaced by one
 * that records what it was asked, so the tests see which PKCE verifier each callback sent.
 */
export async function startStateApp(store: SessionStateStore, options: StateAppOptions = {}): Promise<StateApp> {
  const exchanges: Exchange[] = [];
  const strategy = new OAuth2Strategy(
    {
      authorizationURL: 'https://samsara.test/oauth2/authorize',
      tokenURL: 'https://samsara.test/oauth2/token',
      clientID: 'client-id',
      clientSecret: 'client-secret',
      callbackURL: '/callback',
      // @types/passport-oauth2 knows only the two-argument store, not the PKCE one it dispatches to.
      store: store as unknown as OAuth2Strategy.StateStore,
      pkce: options.pkce ?? false,
      state: true,
      skipUserProfile: true,
    },
    (accessToken: string, _refreshToken: string, _profile: unknown, done: OAuth2Strategy.VerifyCallback) => {
      done(null, { code: accessToken.replace(/^at-/, '') });
    },
  );
  (strategy as unknown as { _oauth2: { getOAuthAccessToken: unknown } })._oauth2.getOAuthAccessToken = (
    code: string,
    params: { code_verifier?: string },
    done: (err: unknown, accessToken?: string, refreshToken?: string, results?: object) => void,
  ) => {
    exchanges.push({ code, codeVerifier: params.code_verifier });
    done(null, `at-${code}`, `rt-${code}`, {});
  };

  const passport = new Passport();
  passport.use('oauth2', strategy);
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user: Express.User, done) => done(null, user));
  const sessions = new session.MemoryStore();
  const app = express();
  app.use(session({ secret: 'state-store-secret', resave: false, saveUninitialized: false, store: sessions }));
  app.use(passport.initialize());
  app.use(passport.session());
  app.get('/login', (req, res, next) => {
    // @types/passport types state as a string; passport-oauth2 hands an object state to the store.
    const label = typeof req.query.label === 'string' ? req.query.label : '';
    const options = { state: { label } } as unknown as AuthenticateOptions;
    passport.authenticate('oauth2', options)(req, res, next);
  });
  app.get('/callback', (req, res, next) => {
    passport.authenticate('oauth2', (err: Error | null, user: Express.User | false, info: unknown, status: unknown) => {
      if (err) return res.status(500).json({ error: err.message });
      if (!user) return res.status(typeof status === 'number' ? status : 401).json({ fail: info ?? null });
      const state = (info as { state?: unknown } | undefined)?.state;
      req.logIn(user, { session: true, keepSessionInfo: options.keepSessionInfo ?? true }, (loginErr) =>
        loginErr ? next(loginErr) : res.json({ user, state }),
      );
    })(req, res, next);
  });

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const agent = request.agent(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return {
    agent,
    sessions,
    exchanges,
    async start(label) {
      const res = await agent.get('/login').query({ label }).expect(302);
      return new URL(res.headers.location);
    },
    callback(code, state) {
      return agent.get('/callback').query(state === null ? { code } : { code, state });
    },
    sessionDump: () => JSON.stringify((sessions as unknown as { sessions: Record<string, string> }).sessions),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
