import { expect } from 'chai';
import express from 'express';
import session from 'express-session';
import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import { Passport } from 'passport';
import request from 'supertest';
import { SamsaraStrategy, SessionStateStore, TokenManager } from 'passport-samsara';
import { createSamsaraApp } from 'passport-samsara/app';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { signIn, type Agent } from './support/app-client.js';
import { closeServer, listenLocal } from './support/browser.js';
import { clientOf } from './support/grants.js';
import { connect, startRedis, type RedisServer } from './support/redis.js';

const PENDING = 60_000;
const SESSION = 12 * 3_600_000;

/** Milliseconds from now until the response's session cookie expires. */
function cookieLifetime(res: request.Response): number {
  const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('samsara.sid='));
  const expires = /Expires=([^;]+)/.exec(cookie ?? '')?.[1];
  if (!expires) throw new Error(`no session cookie with an expiry: ${String(cookie)}`);
  return Date.parse(expires) - Date.now();
}

describe('SessionStateStore: a session that holds only pending sign-ins lives as long as they do', function () {
  this.timeout(20_000);
  let emulator: SamsaraEmulator;
  let redisServer: RedisServer;
  let redis: Redis;
  let server: Server;
  let agent: Agent;
  let url: string;

  /** The lifetimes, in ms, Redis gives the app's sessions now. */
  async function sessionTtls(): Promise<number[]> {
    const keys = await redis.keys('samsara-sess:*');
    return Promise.all(keys.map((key) => redis.pttl(key)));
  }

  before(async () => {
    emulator = await startSamsaraEmulator({ autoApprove: true });
    redisServer = await startRedis();
    redis = connect('ioredis 5', redisServer) as Redis;
  });
  after(async () => {
    redis.disconnect();
    await redisServer.stop();
    await emulator.stop();
  });
  beforeEach(async () => {
    await redis.flushall();
    const app = createSamsaraApp({
      tokens: new TokenManager({ client: clientOf(emulator) }),
      redis,
      strategy: { store: new SessionStateStore({ maxAge: PENDING }) },
      log: () => undefined,
    });
    ({ server, url } = await listenLocal(app));
    agent = request.agent(url);
  });
  afterEach(() => closeServer(server));

  it('an anonymous Connect: the cookie and the stored session last as long as the pending sign-in', async () => {
    const res = await agent.get('/auth/samsara').expect(302);
    expect(cookieLifetime(res)).to.be.within(PENDING - 5_000, PENDING);
    const [ttl] = await sessionTtls();
    expect(ttl).to.be.within(PENDING - 5_000, PENDING);
    // Another Connect of the same session: as long as the newest one.
    expect(cookieLifetime(await agent.get('/auth/samsara').expect(302))).to.be.within(PENDING - 5_000, PENDING);
    expect(await sessionTtls()).to.have.length(1);
  });

  it('a successful sign-in gives the session its own lifetime back, even after a failed one in it', async () => {
    const start = await agent.get('/auth/samsara').expect(302);
    const state = new URL(start.headers.location).searchParams.get('state')!;
    // A callback with a genuine state but a made-up code: the sign-in fails, the session stays short.
    await agent.get(`/auth/samsara/callback?code=made-up&state=${state}`).expect(400);
    const [short] = await sessionTtls();
    expect(short, 'a failed sign-in does not lengthen the session').to.be.at.most(PENDING);
    await signIn(agent, '', emulator);
    const [ttl] = await sessionTtls();
    expect(ttl).to.be.within(SESSION - 60_000, SESSION);
    // Signed in, a Connect (another organization, a second tab) leaves the session's lifetime alone.
    await agent.get('/auth/samsara').expect(302);
    expect((await sessionTtls())[0]).to.be.within(SESSION - 60_000, SESSION);
  });

  it('leaves alone a session that holds anything of the host, and the store of another strategy; never lengthens one', async () => {
    const passport = new Passport();
    const tokens = new TokenManager({ client: clientOf(emulator) });
    passport.use(new SamsaraStrategy({ tokens, store: new SessionStateStore({ maxAge: PENDING }) }));
    const host = express();
    host.use(
      session({
        name: 'samsara.sid',
        secret: 's',
        resave: false,
        saveUninitialized: false,
        cookie: { maxAge: SESSION },
      }),
    );
    host.get('/cart', (req, res) => {
      (req.session as unknown as { cart: string[] }).cart = ['one'];
      res.end();
    });
    host.get('/auth/samsara', passport.authenticate('samsara'));
    const hosted = await listenLocal(host);
    try {
      const visitor = request.agent(hosted.url);
      expect(cookieLifetime(await visitor.get('/auth/samsara').expect(302))).to.be.at.most(PENDING);
      const shopper = request.agent(hosted.url);
      await shopper.get('/cart').expect(200);
      expect(cookieLifetime(await shopper.get('/auth/samsara').expect(302))).to.be.above(SESSION - 60_000);
    } finally {
      await closeServer(hosted.server);
    }
    // With passport-oauth2's own strategy nobody would give the lifetime back: nothing is cut.
    const req = { session: { cookie: { maxAge: SESSION, originalMaxAge: SESSION } } };
    const plain = new SessionStateStore({ maxAge: PENDING });
    plain.store(req, undefined, undefined, {}, () => undefined);
    expect(req.session.cookie.maxAge).to.equal(SESSION);
    const bound = new SessionStateStore({ maxAge: PENDING, boundSessions: true });
    const noop = (): void => undefined;
    bound.store(req, undefined, undefined, {}, noop);
    expect(req.session.cookie.maxAge).to.equal(PENDING);
    // Never longer than the session's own lifetime, when that is the shorter one.
    const brief = { session: { cookie: { maxAge: 30_000, originalMaxAge: 30_000 } } };
    bound.store(brief, undefined, undefined, {}, noop);
    expect(brief.session.cookie.maxAge).to.equal(30_000);
  });
});
