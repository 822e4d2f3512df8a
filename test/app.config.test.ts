import { expect } from 'chai';
import type { Server } from 'node:http';
import express from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import request from 'supertest';
import { TokenManager, generateSealingKey } from 'passport-samsara';
import { ConfigurationError } from 'passport-samsara/errors';
import { createSamsaraApp } from 'passport-samsara/app';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { accounts, signIn } from './support/app-client.js';
import { closeServer, listenLocal } from './support/browser.js';
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
      const sealingKeys = generateSealingKey();
      expect(() =>
        createSamsaraApp({ tokens: real(), sessionSecret: 'a long random value', sealingKeys }),
      ).to.not.throw();
      expect(() =>
        createSamsaraApp({ tokens: real(), session: (_req, _res, next) => next(), sealingKeys }),
      ).to.not.throw();
      expect(() => createSamsaraApp({ tokens: new TokenManager({ client: emulator }) })).to.not.throw();
      process.env.SESSION_SECRET = 'from the environment';
      expect(() => createSamsaraApp({ tokens: real(), sealingKeys })).to.not.throw();
    });
  });

  describe('SAMSARA_SEALING_KEYS (the session binding)', () => {
    const real = (): TokenManager =>
      new TokenManager({ client: { clientID: 'real-app', clientSecret: 'real-secret', region: 'eu' } });

    it('is required for a real Samsara, from the option or the environment; not on the emulator, nor with account', () => {
      const saved = process.env.SAMSARA_SEALING_KEYS;
      delete process.env.SAMSARA_SEALING_KEYS;
      try {
        const sessionSecret = 'a long random value';
        expect(() => createSamsaraApp({ tokens: real(), sessionSecret })).to.throw(
          ConfigurationError,
          /SAMSARA_SEALING_KEYS/,
        );
        expect(() => createSamsaraApp({ tokens: real(), sessionSecret, sealingKeys: 'k1:short' })).to.throw(
          ConfigurationError,
          /32 bytes/,
        );
        expect(() => createSamsaraApp({ tokens: real(), sessionSecret, account: accounts().account })).to.not.throw();
        process.env.SAMSARA_SEALING_KEYS = generateSealingKey();
        expect(() => createSamsaraApp({ tokens: real(), sessionSecret })).to.not.throw();
      } finally {
        if (saved === undefined) delete process.env.SAMSARA_SEALING_KEYS;
        else process.env.SAMSARA_SEALING_KEYS = saved;
      }
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

  describe('sessions per mount, and the organization sealed in them', () => {
    let redisServer: Awaited<ReturnType<typeof startRedis>>;
    let redis: Redis;
    let two: SamsaraEmulator;
    const sealingKeys = generateSealingKey();

    before(async () => {
      redisServer = await startRedis();
      redis = new Redis({ host: redisServer.host, port: redisServer.port });
      two = await startSamsaraEmulator({
        autoApprove: '1001',
        organizations: [
          { id: '1001', name: 'Attacker Co', vehicleCount: 1 },
          { id: '2002', name: 'Victim Co', vehicleCount: 1 },
        ],
      });
    });
    after(async () => {
      redis.disconnect();
      await redisServer.stop();
      await two.stop();
    });

    let servers: Server[] = [];
    afterEach(async () => {
      for (const server of servers) await closeServer(server);
      servers = [];
    });

    /**
     * Two mounts on one Redis, signed with one secret: `/a` accepts every organization, `/b` none.
     * Listening, since the callback URL follows the request's host and port.
     */
    async function host(): Promise<string> {
      const common = { redis, sessionSecret: 'one secret for both', sealingKeys, ...quiet };
      const app = express()
        .use('/a', createSamsaraApp({ tokens: new TokenManager({ client: two }), ...common }))
        .use(
          '/b',
          createSamsaraApp({ tokens: new TokenManager({ client: two }), verify: async () => false, ...common }),
        );
      const { server, url } = await listenLocal(app);
      servers.push(server);
      return url;
    }

    /** The value of the session cookie `name` the agent holds. */
    function cookieValue(agent: ReturnType<typeof request.agent>, name: string): string {
      const jar = (
        agent as unknown as { jar: { getCookie(name: string, access: object): { value: string } | undefined } }
      ).jar;
      const cookie = jar.getCookie(name, { domain: '127.0.0.1', path: '/', secure: false, script: false });
      if (!cookie) throw new Error(`the agent holds no ${name} cookie`);
      return cookie.value;
    }

    /** The session's record in Redis, under the mount's own prefix. */
    async function sessionKey(cookie: string, mountCookie: string): Promise<string> {
      const sid = decodeURIComponent(cookie).replace(/^s:/, '').split('.')[0];
      return `samsara-sess:${mountCookie}:${sid}`;
    }

    it('cookie names are injective: /integrations/samsara and /integrations.samsara get two cookies', async () => {
      const paths = [
        '/integrations/samsara',
        '/integrations.samsara',
        '/integrations_2esamsara',
        '/a.',
        '/a_2e',
        '/x/',
      ];
      const app = express();
      for (const path of paths)
        app.use(path, createSamsaraApp({ tokens: new TokenManager({ client: emulator }), ...quiet }));
      const names: string[] = [];
      for (const path of paths) {
        const res = await request(app)
          .get(`${path.replace(/\/$/, '')}/auth/samsara`)
          .expect(302);
        names.push((res.headers['set-cookie'] as unknown as string[])[0].split('=')[0]);
      }
      expect(names).to.deep.equal([
        'samsara.integrations.samsara.sid',
        'samsara.integrations_2esamsara.sid',
        'samsara.integrations_5f2esamsara.sid',
        'samsara.a_2e.sid',
        'samsara.a_5f2e.sid',
        'samsara.x.sid',
      ]);
      for (const name of names) expect(name).to.match(/^[A-Za-z0-9._+-]+$/);
    });

    it("one mount's session, replayed under another mount's cookie name, signs nobody in there", async () => {
      const app = await host();
      const agent = request.agent(app);
      await signIn(agent, '/a', two);
      await agent
        .get('/a/')
        .expect(200)
        .expect(/Attacker Co/);
      const cookie = cookieValue(agent, 'samsara.a.sid');
      expect(await redis.exists(await sessionKey(cookie, 'samsara.a.sid')), 'under the mount’s own prefix').to.equal(1);
      const replay = request(app);
      await replay.get('/b/vehicles').set('cookie', `samsara.b.sid=${cookie}`).expect(303).expect('location', '/b/');
      await replay
        .get('/b/')
        .set('cookie', `samsara.b.sid=${cookie}`)
        .expect(200)
        .expect(/id="connect"/);
    });

    it('whoever writes the session store cannot switch a session to another organization', async () => {
      const app = await host();
      const victim = request.agent(app);
      two.configure({ autoApprove: '2002' });
      await signIn(victim, '/a', two);
      two.configure({ autoApprove: '1001' });
      const attacker = request.agent(app);
      await signIn(attacker, '/a', two);
      const victimKey = await sessionKey(cookieValue(victim, 'samsara.a.sid'), 'samsara.a.sid');
      const attackerKey = await sessionKey(cookieValue(attacker, 'samsara.a.sid'), 'samsara.a.sid');
      const victimRecord = JSON.parse((await redis.get(victimKey))!) as { passport: { user: unknown } };
      expect(victimRecord.passport.user).to.be.a('string').that.matches(/^v1\./);
      expect(JSON.stringify(victimRecord)).to.not.include('Victim Co').and.not.include('2002');

      const write = async (user: unknown): Promise<void> => {
        const record = JSON.parse((await redis.get(attackerKey))!) as { passport: { user: unknown } };
        record.passport.user = user;
        await redis.set(attackerKey, JSON.stringify(record), 'KEEPTTL');
      };
      // The victim's sealed binding, moved into the attacker's session.
      await write(victimRecord.passport.user);
      await attacker
        .get('/a/')
        .expect(200)
        .expect(/id="connect"/);
      await attacker.get('/a/vehicles').expect(303);
      // A binding written in the clear.
      await write({ orgId: '2002', orgName: 'Victim Co' });
      await attacker
        .get('/a/')
        .expect(200)
        .expect(/id="connect"/);
      // The victim is still who they were.
      await victim
        .get('/a/')
        .expect(200)
        .expect(/Victim Co/);
    });
  });

  describe('brand, account and hooks options', () => {
    it('puts your product on every page, and lets the CSP load its logo and stylesheet, nothing more', async () => {
      const app = createSamsaraApp({
        tokens: new TokenManager({ client: emulator }),
        brand: {
          name: 'Acme Dispatch',
          logo: 'https://cdn.acme.test/logo.svg',
          stylesheet: '/static/samsara.css',
          home: { href: '/dashboard', label: 'Back to Acme Dispatch' },
        },
        ...quiet,
      });
      const res = await request(app).get('/').expect(200);
      expect(res.text)
        .to.include('<title>Connect Samsara · Acme Dispatch</title>')
        .and.include('<img class="logo" src="https://cdn.acme.test/logo.svg"')
        .and.include('<link rel="stylesheet" href="/static/samsara.css">')
        .and.include('<a class="home" id="brand-home" href="/dashboard">Back to Acme Dispatch</a>')
        .and.include('so Acme Dispatch can read its fleet');
      const csp: string = res.headers['content-security-policy'];
      expect(csp)
        .to.include("img-src 'self' https://cdn.acme.test;")
        .and.match(/style-src 'self'(;|$)/);
      for (const brand of [
        { logo: 'javascript:alert(1)' },
        { stylesheet: '//evil.test/x.css' },
        { name: '' },
        { home: { href: '/', label: '' } },
      ]) {
        expect(
          () => createSamsaraApp({ tokens: new TokenManager({ client: emulator }), brand }),
          JSON.stringify(brand),
        ).to.throw(ConfigurationError, /brand\./);
      }
    });

    it('checks the account option when the app is made', () => {
      const { account } = accounts();
      expect(() =>
        createSamsaraApp({
          tokens: new TokenManager({ client: emulator }),
          account: { ...account, connect: undefined as never },
        }),
      ).to.throw(ConfigurationError, /account\.connect must be a function/);
      expect(() =>
        createSamsaraApp({ tokens: new TokenManager({ client: emulator }), account: { ...account, signInURL: '' } }),
      ).to.throw(ConfigurationError, /account\.signInURL/);
    });

    it('passes the lifecycle hooks through: to the manager it makes, or added to the one given', async () => {
      const seen: string[] = [];
      const given = new TokenManager({ client: emulator });
      const app = createSamsaraApp({
        tokens: given,
        onConnect: ({ orgId, reason }) => void seen.push(`connect ${orgId} ${reason}`),
        onDisconnect: ({ orgId }) => void seen.push(`disconnect ${orgId}`),
        ...quiet,
      });
      const { server, url } = await listenLocal(app);
      try {
        const agent = request.agent(url);
        await signIn(agent, '', emulator);
        await agent.post('/disconnect').set('origin', url).expect(303);
        expect(seen).to.deep.equal(['connect 1001 connected', 'disconnect 1001']);
      } finally {
        await closeServer(server);
      }
    });
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
