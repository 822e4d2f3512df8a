import express from 'express';
import type { ExpressFactory } from './expresses.js';
import session from 'express-session';
import { Passport } from 'passport';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import request from 'supertest';
import type { Strategy } from 'passport';

/** An Express app with sessions and passport around one strategy, listening on a loopback port. */
export interface TestApp {
  url: string;
  /** A cookie-keeping client of this app. */
  agent: ReturnType<typeof request.agent>;
  sessions: session.MemoryStore;
  close(): Promise<void>;
}

/**
 * The callback route answers JSON describing what passport decided, so tests can assert the
 * error code, the failure and its status.
 */
export async function startApp(
  strategy: Strategy,
  callbackOptions: Record<string, unknown> = {},
  make: ExpressFactory = express,
): Promise<TestApp> {
  const passport = new Passport();
  passport.use(strategy);
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user: Express.User, done) => done(null, user));
  const sessions = new session.MemoryStore();
  const app = make();
  app.use(session({ secret: 'test-session-secret', resave: false, saveUninitialized: false, store: sessions }));
  app.use(passport.initialize());
  app.use(passport.session());
  app.get('/auth/samsara', passport.authenticate('samsara'));
  app.get('/auth/samsara/callback', (req, res, next) => {
    passport.authenticate(
      'samsara',
      callbackOptions,
      (
        err: (Error & { code?: string; status?: number }) | null,
        user: Express.User | false,
        info: unknown,
        status: unknown,
      ) => {
        if (err) {
          res.status(500).json({ error: { name: err.name, code: err.code, status: err.status, message: err.message } });
          return;
        }
        if (!user) {
          res.status(typeof status === 'number' ? status : 401).json({ fail: info ?? null });
          return;
        }
        // keepSessionInfo: the session's other pending sign-ins (another tab) survive the login.
        req.logIn(user, { session: true, keepSessionInfo: true }, (loginErr) =>
          loginErr ? next(loginErr) : res.json({ user }),
        );
      },
    )(req, res, next);
  });
  app.get('/whoami', (req, res) => {
    res.json({ user: req.user ?? null });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    agent: request.agent(url),
    sessions,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Walks the browser's part of the code flow without a browser: start at the app, let the emulator
 * (with autoApprove) redirect back, and return the callback path with its query.
 */
export async function authorizeRedirect(app: TestApp): Promise<{ authorizeURL: URL; callback: URL }> {
  const start = await app.agent.get('/auth/samsara').expect(302);
  const authorizeURL = new URL(start.headers.location);
  const consent = await fetch(authorizeURL, { redirect: 'manual' });
  if (consent.status !== 302) throw new Error(`authorize answered ${consent.status}, not a redirect`);
  return { authorizeURL, callback: new URL(consent.headers.get('location') as string) };
}

/** The path and query of a URL, for the agent. */
export function pathOf(url: URL): string {
  return url.pathname + url.search;
}

/** A whole sign-in through `app` (the emulator started `autoApprove`): what the callback answered. */
export async function signInThrough(app: TestApp): Promise<{ status: number; body: Record<string, any> }> {
  const { callback } = await authorizeRedirect(app);
  const res = await app.agent.get(pathOf(callback));
  return { status: res.status, body: res.body as Record<string, any> };
}
