import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import {
  PostgresTokenStore,
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  type TokenStore,
} from 'passport-samsara';
import type { Pool } from 'pg';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf } from './support/grants.js';
import { SHARED, pool, testSchema } from './support/postgres.js';
import { connect, startRedis, type RedisServer } from './support/redis.js';

const script = join(__dirname, '..', 'example', 'sync.js');

/** Runs the compiled job (what `npm run sync` runs after building) with only `env` configured. */
async function runSync(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(SAMSARA_|REDIS_URL$|DATABASE_URL$|SYNC_)/.test(name)),
  );
  const child = spawn(process.execPath, [script], { env: { ...clean, ...env } });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
  child.stderr.on('data', (chunk: Buffer) => (out += String(chunk)));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out };
}

describe('example/sync.ts, the background job (npm run sync)', function () {
  this.timeout(60_000);

  it('with nothing configured: 3 organizations on in-process emulators, one revoked mid-run and reported disconnected', async () => {
    const { code, out } = await runSync({});
    expect(code, out).to.equal(0);
    expect(out).to.include('✓ 1001 (us): 1200 vehicles');
    expect(out).to.include('✓ 2001 (eu): 800 vehicles');
    expect(out).to.match(/✗ 1002: disconnected after \d+ vehicles \(SAMSARA_REAUTHORIZE/);
    expect(out).to.include('[passport-samsara:refresh] 1001 refreshed');
    expect(out).to.match(/\[passport-samsara:rate-limited\] 1002 waiting in 750 ms/);
    expect(out).to.include('sync: 2 of 3 organizations synced (2000 vehicles)');
    expect(out).to.include('disconnected: 1002; failed: none');
    // Not a terminal: plain progress lines, no bar and no escape codes.
    expect(out).to.match(/^progress: 3 of 3 organizations, \d+ vehicles\/s, \d+ waits \([\d.]+ s\)$/m);
    expect(out).to.not.include('\x1b[');
    // The emulator's tokens are 43 base64url characters: none may reach a log line.
    expect(out).to.not.match(/[\w-]{32,}/);
  });

  /** A store the job's processes share, and the environment that points them at it. */
  interface Shared {
    store: TokenStore;
    env: Record<string, string>;
    stop(): Promise<void>;
  }
  const keys = generateSealingKey('sync');
  const shared: [string, () => Promise<Shared>][] = [
    [
      'Redis (REDIS_URL)',
      async () => {
        const redis: RedisServer = await startRedis();
        const client = connect('ioredis 5', redis) as Redis;
        const store = new RedisTokenStore({ client, keys });
        return {
          store,
          env: { REDIS_URL: `redis://${redis.host}:${redis.port}` },
          stop: async () => {
            await store.close();
            client.disconnect();
            await redis.stop();
          },
        };
      },
    ],
    [
      'Postgres (DATABASE_URL)',
      async () => {
        // A database of this run's own: the job uses the store's default schema.
        const database = testSchema('sync');
        const admin: Pool = pool({ max: 1 });
        await admin.query(`CREATE DATABASE "${database}"`);
        const db = pool({ database });
        const store = new PostgresTokenStore({ pool: db, keys });
        return {
          store,
          env: { DATABASE_URL: `postgres://${SHARED.user}@${SHARED.host}:${SHARED.port}/${database}` },
          stop: async () => {
            await store.close();
            await db.end();
            await admin.query(`DROP DATABASE "${database}" WITH (FORCE)`);
            await admin.end();
          },
        };
      },
    ],
  ];

  for (const [name, start] of shared) {
    describe(`two processes at once on one store: ${name}`, () => {
      let emulator: SamsaraEmulator;
      let backend: Shared;

      before(async () => {
        emulator = await startSamsaraEmulator({
          organizations: [
            { id: '1001', name: 'One', vehicleCount: 150 },
            { id: '1002', name: 'Two', vehicleCount: 250 },
            { id: '1003', name: 'Three', vehicleCount: 50 },
          ],
        });
        backend = await start();
        const tokens = new TokenManager({ store: backend.store, client: clientOf(emulator) });
        for (const orgId of ['1001', '1002', '1003']) {
          const grant = emulator.issueGrant(orgId);
          // Expired here: each organization's first call must refresh.
          await tokens.connect(orgId, {
            accessToken: grant.accessToken,
            refreshToken: grant.refreshToken,
            expiresAt: Date.now() - 1_000,
          });
        }
      });
      after(async () => {
        await backend?.stop();
        await emulator?.stop();
      });

      it('both sync every organization, and each expired token is refreshed once across the two', async () => {
        // Slow refreshes: whichever process comes second finds the lock held and waits for it.
        emulator.injectFault('token', { type: 'delay', ms: 1_500 }, 3);
        const env = {
          SAMSARA_CLIENT_ID: emulator.clientID,
          SAMSARA_CLIENT_SECRET: emulator.clientSecret,
          SAMSARA_BASE_URL: emulator.baseURL,
          SAMSARA_SEALING_KEYS: keys,
          ...backend.env,
        };
        const runs = await Promise.all([runSync(env), runSync(env)]);
        for (const { code, out } of runs) {
          expect(code, out).to.equal(0);
          expect(out).to.include('sync: 3 of 3 organizations synced (450 vehicles)');
        }
        const both = runs.map((r) => r.out).join('\n');
        expect(both.match(/\] \d+ refreshed/g)).to.have.length(3);
        expect(both, "the second process waited for the first one's refresh").to.match(
          /\[passport-samsara:lock-wait\] 100\d changed/,
        );
        expect(emulator.counters.grants.refresh_token).to.equal(3);
        expect(emulator.counters.invalidGrant).to.equal(0);
      });
    });
  }
});
