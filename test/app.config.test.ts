import { expect } from 'chai';
import express from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import request from 'supertest';
import { ConfigurationError, TokenManager } from 'passport-samsara';
import { createSamsaraApp } from 'passport-samsara/app';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { signIn } from './support/app-client.js';
import { startRedis } from './support/redis.js';

const quiet = { log: () => undefined };

describe('the Samsara app: configuration, mounts, health', function () {
  this.timeout(20_000);
  let emulator: SamsaraEmulator;
  const saved = { ...process.env };

  before(async () => {
    emulator = await startSamsaraEmulator({ autoApprove: true });
  });
  after(() => emulator.stop());
  afterEach(() => {
    for (const name of ['SESSION_SECRET', 'SAMSARA_CALLBACK_URL']) {
      if (saved[name] === undefined) Reflect.deleteProperty(process.env, name);
      else process.env[name] = saved[name];
    }
  });

  describe('SESSION_SECRET', () => {
    const real = (): TokenManager =>
      new TokenManager({ client: { clientID: 'real-app', clientSecret: 'real-secret', region: 'eu' } });

    it('is required for a real Samsara configured through options, and through the environment', () => {
      delete process.env.SESSION_SECRET;
      expect(() => createSamsaraApp({ tokens: real() })).to.throw(ConfigurationError, /SESSION_SECRET/);
      expect(() => createSamsaraApp({ tokens: real(), sessionSecret: [] })).to.throw(ConfigurationError);
      // The emulator's public client id on a non-loopback host is not the emulator.
      const disguised = new TokenManager({
        client: { clientID: emulator.clientID, clientSecret: 'x', baseURL: 'https://samsara.example.com' },
      });
      expect(() => createSamsaraApp({ tokens: disguised })).to.throw(ConfigurationError);
    });

    it('is taken from the option or SESSION_SECRET; not needed on the emulator or with your own session', () => {
      delete process.env.SESSION_SECRET;
      expect(() => createSamsaraApp({ tokens: real(), sessionSecret: 'a long random value' })).to.not.throw();
      expect(() => createSamsaraApp({ tokens: real(), session: (_req, _res, next) => next() })).to.not.throw();
      expect(() => createSamsaraApp({ tokens: new TokenManager({ client: emulator }) })).to.not.throw();
      process.env.SESSION_SECRET = 'from the environment';
      expect(() => createSamsaraApp({ tokens: real() })).to.not.throw();
    });
  });

  describe('the callback URL', () => {
    const tokens = (): TokenManager => new TokenManager({ client: emulator });
    const redirectURI = async (app: express.Express): Promise<string | null> => {
      const res = await request(app).get('/auth/samsara').expect(302);
      return new URL(res.headers.location).searchParams.get('redirect_uri');
    };

    it('follows the mount point and the request when nothing is configured', async () => {
      delete process.env.SAMSARA_CALLBACK_URL;
      const host = express().use('/x', createSamsaraApp({ tokens: tokens(), ...quiet }));
      const res = await request(host).get('/x/auth/samsara').set('host', 'app.test').expect(302);
      expect(new URL(res.headers.location).searchParams.get('redirect_uri')).to.equal(
        'http://app.test/x/auth/samsara/callback',
      );
    });

    it('honours SAMSARA_CALLBACK_URL, and the option over it, whatever the Host header says', async () => {
      process.env.SAMSARA_CALLBACK_URL = 'https://env.example.com/auth/samsara/callback';
      expect(await redirectURI(createSamsaraApp({ tokens: tokens(), ...quiet }))).to.equal(
        'https://env.example.com/auth/samsara/callback',
      );
      const option = createSamsaraApp({ tokens: tokens(), callbackURL: 'https://opt.example.com/cb', ...quiet });
      expect(await redirectURI(option)).to.equal('https://opt.example.com/cb');
      expect(() => createSamsaraApp({ tokens: tokens(), callbackURL: '/relative' })).to.throw(ConfigurationError);
    });
  });

  it('two mounts in one host keep two sessions: each its own cookie, both signed in', async () => {
    const other = await startSamsaraEmulator({
      autoApprove: true,
      organizations: [{ id: '2002', name: 'Acme Freight', vehicleCount: 3 }],
    });
    try {
      const host = express();
      host.use('/samsara/us', createSamsaraApp({ tokens: new TokenManager({ client: emulator }), ...quiet }));
      host.use('/samsara/eu', createSamsaraApp({ tokens: new TokenManager({ client: other }), ...quiet }));
      const server = host.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      try {
        const agent = request.agent(server);
        await signIn(agent, '/samsara/us', emulator);
        await signIn(agent, '/samsara/eu', other);
        await agent
          .get('/samsara/us/')
          .expect(200)
          .expect(/Charlie&#39;s Dining Services/);
        await agent
          .get('/samsara/eu/')
          .expect(200)
          .expect(/Acme Freight/);
        const start = await request(server).get('/samsara/eu/auth/samsara').expect(302);
        expect((start.headers['set-cookie'] as unknown as string[])[0]).to.match(/^samsara\.samsara\.eu\.sid=/);
      } finally {
        server.closeAllConnections();
        server.close();
      }
    } finally {
      await other.stop();
    }
  });

  it("refuses to run inside the host's own session (it would share and overwrite it): 500, a log entry naming the fix", async () => {
    const logged: unknown[] = [];
    const host = express();
    host.use(session({ secret: 'host', resave: false, saveUninitialized: false }));
    host.use(
      '/samsara',
      createSamsaraApp({ tokens: new TokenManager({ client: emulator }), log: (e) => logged.push(e) }),
    );
    const res = await request(host).get('/samsara/').expect(500);
    expect(res.text).to.include('data-kind="error"');
    expect(JSON.stringify(logged)).to.include('SAMSARA_CONFIG').and.include('mount the app before');
  });

  describe('/healthz and /readyz', () => {
    it('healthz: 200 while the process serves; readyz without Redis, on the memory store: 200', async () => {
      const app = createSamsaraApp({ tokens: new TokenManager({ client: emulator }), ...quiet });
      await request(app).get('/healthz').expect(200, { status: 'ok' });
      await request(app)
        .get('/readyz')
        .expect(200, { status: 'ready', checks: { tokens: 'ok' } });
    });

    it('readyz with Redis: 200 while it answers, 503 within about a second once it stops', async () => {
      const server = await startRedis();
      const redis = new Redis({ host: server.host, port: server.port, lazyConnect: true });
      try {
        await redis.connect();
        const app = createSamsaraApp({ tokens: new TokenManager({ client: emulator }), redis, ...quiet });
        await request(app)
          .get('/readyz')
          .expect(200, { status: 'ready', checks: { redis: 'up', tokens: 'ok' } });
        server.pause();
        const started = Date.now();
        const res = await request(app).get('/readyz').expect(503);
        expect(res.body).to.deep.equal({
          status: 'unavailable',
          checks: { redis: 'down', tokens: 'ok' },
          reason: 'the session Redis does not answer',
        });
        expect(Date.now() - started).to.be.lessThan(3_000);
        expect(res.headers['retry-after']).to.equal('5');
        server.resume();
      } finally {
        redis.disconnect();
        await server.stop();
      }
    });
  });
});
