import { expect } from 'chai';
import Redis from 'ioredis';
import {
  OAuthClient,
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  type ConnectEvent,
  type DisconnectEvent,
  type ReauthorizationRequiredEvent,
} from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf } from './support/grants.js';
import { startRedis, type RedisServer } from './support/redis.js';

/** One process of the fleet: its own Redis connection, store and manager, and what its hooks heard. */
interface Process {
  tokens: TokenManager;
  store: RedisTokenStore;
  redis: Redis;
  heard: { connect: ConnectEvent[]; disconnect: DisconnectEvent[]; reauthorize: ReauthorizationRequiredEvent[] };
}

const ORGS = ['1001', '1002', '1003', '1004', '1005'];

describe('lifecycle hooks across two processes on one Redis: each event told exactly once', function () {
  this.timeout(30_000);
  let server: RedisServer;
  let emulator: SamsaraEmulator;
  let fleet: Process[];
  const keys = generateSealingKey('lifecycle');

  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await server?.stop();
  });
  beforeEach(async () => {
    emulator = await startSamsaraEmulator({
      organizations: ORGS.map((id) => ({ id, name: `Org ${id}`, vehicleCount: 1 })),
    });
    // Two processes: each its own connection, store and manager, on one prefix (they share the store).
    const prefix = `lifecycle-${Math.random().toString(36).slice(2)}:`;
    fleet = [0, 1].map(() => {
      const redis = new Redis({ host: server.host, port: server.port });
      const store = new RedisTokenStore({ client: redis, keys, prefix });
      const heard: Process['heard'] = { connect: [], disconnect: [], reauthorize: [] };
      const tokens = new TokenManager({
        store,
        client: clientOf(emulator),
        onConnect: (event) => void heard.connect.push(event),
        onDisconnect: (event) => void heard.disconnect.push(event),
        onReauthorizationRequired: (event) => void heard.reauthorize.push(event),
      });
      return { tokens, store, redis, heard };
    });
    // Both connections up before anything races: a cold one would lose every race to the warm one.
    await Promise.all(fleet.map((p) => p.redis.ping()));
  });
  afterEach(async () => {
    for (const p of fleet) {
      await p.tokens.idle();
      p.tokens.close();
      await p.store.close();
      p.redis.disconnect();
    }
    await emulator.stop();
  });

  const all = (what: keyof Process['heard']): Array<{ orgId: string }> =>
    fleet.flatMap((p): Array<{ orgId: string }> => p.heard[what]);

  /** Each organization connected through the first process, with an access token that has expired. */
  async function connectAll(expiresInMs: number): Promise<string[]> {
    const refreshTokens: string[] = [];
    for (const orgId of ORGS) {
      const issued = emulator.issueGrant(orgId);
      await fleet[0].tokens.connect(orgId, { ...issued, expiresAt: Date.now() + expiresInMs });
      refreshTokens.push(issued.refreshToken);
    }
    return refreshTokens;
  }

  it('onConnect: told by the process that connected, once per sign-in', async () => {
    await connectAll(3600_000);
    expect(fleet[0].heard.connect.map((e) => e.orgId)).to.deep.equal(ORGS);
    expect(fleet[1].heard.connect).to.deep.equal([]);
  });

  it('onReauthorizationRequired: both processes find the grants dead at once; each dead grant is told once', async () => {
    const refreshTokens = await connectAll(-1_000);
    const client = new OAuthClient(clientOf(emulator));
    for (const token of refreshTokens) await client.revoke(token); // uninstalled in Samsara
    // Every organization asked for by both processes at the same moment, three callers each.
    // Which process asks first alternates, so that either may win.
    const calls = ORGS.flatMap((orgId, i) =>
      (i % 2 === 0 ? fleet : [...fleet].reverse()).flatMap((p) => [0, 1, 2].map(() => p.tokens.accessToken(orgId))),
    );
    const results = await Promise.allSettled(calls);
    for (const p of fleet) await p.tokens.idle();
    expect(results.every((r) => r.status === 'rejected')).to.equal(true);
    const told = all('reauthorize').map((e) => e.orgId);
    expect([...told].sort()).to.deep.equal(ORGS);
    expect(told.length, 'exactly once per organization, across both processes').to.equal(ORGS.length);
    console.log(
      `      reauthorization told by process 1: ${fleet[0].heard.reauthorize.length}, by process 2: ${fleet[1].heard.reauthorize.length}`,
    );
  });

  it('onDisconnect: both processes disconnect every organization at once; each Disconnect is told once', async () => {
    await connectAll(3600_000);
    await Promise.all(
      ORGS.flatMap((orgId, i) => (i % 2 === 0 ? fleet : [...fleet].reverse()).map((p) => p.tokens.revoke(orgId))),
    );
    const told = all('disconnect').map((e) => e.orgId);
    expect([...told].sort()).to.deep.equal(ORGS);
    expect(told.length).to.equal(ORGS.length);
    expect(emulator.activeGrants()).to.equal(0);
  });
});
