import { expect } from 'chai';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Server } from 'node:http';
import type { Redis } from 'ioredis';
import request from 'supertest';
import {
  RedisTokenStore,
  SAMSARA_CHANNELS,
  TokenManager,
  generateSealingKey,
  type ReauthorizeEvent,
  type StoreLostEvent,
} from 'passport-samsara';
import { createSamsaraApp, type SamsaraAppLogEntry } from 'passport-samsara/app';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { signIn } from './support/app-client.js';
import { closeServer, listenLocal } from './support/browser.js';
import { clientOf } from './support/grants.js';
import { connect, startRedis, type RedisServer } from './support/redis.js';

const keys = generateSealingKey('kready');

describe('the Samsara app: /readyz checks the token store', function () {
  this.timeout(30_000);
  let emulator: SamsaraEmulator;
  let tokenServer: RedisServer;
  let sessionServer: RedisServer;
  let tokenRedis: Redis;
  let sessionRedis: Redis;
  let store: RedisTokenStore;
  let tokens: TokenManager;
  let logged: SamsaraAppLogEntry[];
  let server: Server | undefined;
  let heard: { lost: StoreLostEvent[]; reauthorize: ReauthorizeEvent[] };
  const onLost = (m: unknown): void => void heard.lost.push(m as StoreLostEvent);
  const onReauthorize = (m: unknown): void => void heard.reauthorize.push(m as ReauthorizeEvent);

  /**
   * Tokens in one Redis (persistent or not), sessions in another, as the docs recommend; the app
   * on a port of its own (the callback URL follows the request's host). Its URL.
   */
  async function start(persistent: boolean): Promise<string> {
    tokenServer = await startRedis({ persistent });
    tokenRedis = connect('ioredis 5', tokenServer) as Redis;
    store = new RedisTokenStore({ client: tokenRedis, keys, timeout: 300 });
    tokens = new TokenManager({ store, client: clientOf(emulator) });
    logged = [];
    const app = createSamsaraApp({ tokens, redis: sessionRedis, log: (entry) => logged.push(entry) });
    const listening = await listenLocal(app);
    server = listening.server;
    return listening.url;
  }

  before(async () => {
    emulator = await startSamsaraEmulator({ autoApprove: true });
    sessionServer = await startRedis();
    sessionRedis = connect('ioredis 5', sessionServer) as Redis;
  });
  after(async () => {
    sessionRedis.disconnect();
    await sessionServer.stop();
    await emulator.stop();
  });
  beforeEach(() => {
    heard = { lost: [], reauthorize: [] };
    subscribe(SAMSARA_CHANNELS.storeLost, onLost);
    subscribe(SAMSARA_CHANNELS.reauthorize, onReauthorize);
  });
  afterEach(async () => {
    unsubscribe(SAMSARA_CHANNELS.storeLost, onLost);
    unsubscribe(SAMSARA_CHANNELS.reauthorize, onReauthorize);
    await closeServer(server);
    await tokens.idle();
    tokens.close();
    await store.close();
    tokenRedis.disconnect();
    await tokenServer.stop();
  });

  it('a restart without persistence: 503 with the reason on the next check, one log line, the event, nothing written as if the old data existed', async () => {
    const app = await start(false);
    const agent = request.agent(app);
    await signIn(agent, '', emulator);
    await agent.get('/readyz').expect(200, { status: 'ready', checks: { redis: 'up', tokens: 'ok' } });
    const revocationsBefore = emulator.counters.revocations;

    await tokenServer.kill();
    await tokenServer.restart();
    const res = await agent.get('/readyz').expect(503);
    expect(res.body.checks).to.deep.equal({ redis: 'up', tokens: 'lost-data' });
    expect(res.body.reason).to.match(
      /^the token store lost its data at \d{4}-.*every organization it held must connect again$/,
    );
    expect(res.headers['retry-after']).to.equal('5');
    await agent.get('/readyz').expect(503);
    expect(logged, 'one error line per loss, not per probe').to.have.length(1);
    expect(logged[0]).to.include({ level: 'error', kind: 'store-down', code: 'SAMSARA_STORE_LOST', path: '/readyz' });
    expect(logged[0].message).to.include('lost its data');
    expect(heard.lost).to.have.length(1);

    // The organization's session (in the other Redis) is still signed in: its page asks it to connect again.
    const home = await agent.get('/').expect(401);
    expect(home.text).to.include('data-kind="reauthorize"');
    expect(heard.reauthorize.map((m) => [m.orgId, m.outcome])).to.deep.equal([['1001', 'lost-data']]);
    expect(emulator.counters.revocations - revocationsBefore, 'no grant revoked').to.equal(0);
    expect(emulator.activeGrants('1001'), 'the grant lives on at Samsara, held by nobody').to.equal(1);
    expect(await tokenRedis.keys('samsara:{org:*'), 'nothing written back').to.deep.equal([]);
  });

  it('FLUSHALL of the token Redis: 503 on the next check, though no connection dropped', async () => {
    const app = await start(false);
    await request(app).get('/readyz').expect(200);
    await tokenRedis.flushall();
    const res = await request(app).get('/readyz').expect(503);
    expect(res.body.checks.tokens).to.equal('lost-data');
    expect(heard.lost.map((m) => m.trigger)).to.deep.equal(['health']);
    expect(logged).to.have.length(1);
  });

  it('the token Redis down, the session Redis up: 503', async () => {
    const app = await start(false);
    await request(app).get('/readyz').expect(200);
    tokenServer.pause();
    try {
      const res = await request(app).get('/readyz').expect(503);
      expect(res.body).to.deep.equal({
        status: 'unavailable',
        checks: { redis: 'up', tokens: 'unavailable' },
        reason: 'the token store does not answer',
      });
      expect(JSON.stringify(res.body), 'no host, port or driver text').to.not.include(String(tokenServer.port));
    } finally {
      tokenServer.resume();
    }
    await request(app).get('/readyz').expect(200);
    expect(logged).to.deep.equal([]);
  });

  it('a restart of a persistent token Redis: ready again once it answers, no loss reported', async () => {
    const app = await start(true);
    const agent = request.agent(app);
    await signIn(agent, '', emulator);
    await agent.get('/readyz').expect(200);
    await tokenServer.kill();
    await tokenServer.restart();
    let res = await agent.get('/readyz');
    for (let i = 0; res.status !== 200 && i < 50; i++) res = await agent.get('/readyz');
    expect(res.status).to.equal(200);
    await agent.get('/').expect(200);
    expect(heard.lost).to.deep.equal([]);
    expect(logged).to.deep.equal([]);
  });
});
