import { expect } from 'chai';
import Redis from 'ioredis';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import {
  PostgresTokenStore,
  RedisTokenStore,
  TokenManager,
  generateSealingKey,
  type Credentials,
  type TokenStore,
} from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import type { Pool } from 'pg';
import { copyGrants } from '../lib/cli/copy-grants.js';
import type { SealedStore } from '../lib/tokens/sealed-record.js';
import { clientOf, seedGrant } from './support/grants.js';
import { SHARED, dropSchema, pool, testSchema } from './support/postgres.js';

type Store = TokenStore & SealedStore & { close(): Promise<void> };

const run = promisify(execFile);
const BIN = join(dirname(require.resolve('passport-samsara/package.json')), 'dist', 'cli', 'index.js');
const ids = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `${from + i + 1}`);
const ORGS = ids(1000, 1060);
/** Expired on the source: refreshed on the destination as soon as they arrive, while the copy goes on. */
const ARRIVING = ORGS.slice(0, 10);
/** Signed in again on the destination before the copy, and refreshed there all along: newer there. */
const NEWER = ORGS.slice(10, 15);
/** Signed in twice on the source: one retired grant each. */
const TWICE = ORGS.slice(15, 21);
/** Signed out on the source: tombstones. */
const GONE = ORGS.slice(21, 24);

for (const direction of ['Redis -> Postgres', 'Postgres -> Redis'] as const) {
  describe(`copy-grants ${direction}, with refreshes on the destination during the copy`, function () {
    this.timeout(120_000);
    const keys = generateSealingKey('copy');
    const prefix = `copy-${Math.random().toString(36).slice(2)}:`;
    let schema: string;
    let emulator: SamsaraEmulator;
    let redis: Redis;
    let db: Pool;
    let from: Store;
    let to: Store;
    let urls: { from: string; to: string };

    before(async () => {
      schema = testSchema('copy');
      emulator = await startSamsaraEmulator({
        organizations: ORGS.map((id) => ({ id, name: `Org ${id}`, vehicleCount: 1 })),
      });
      redis = new Redis({ host: '127.0.0.1', port: 6379 });
      db = pool();
      const onRedis = new RedisTokenStore({ client: redis, keys, prefix });
      const onPostgres = new PostgresTokenStore({ pool: db, keys, schema, prefix });
      const redisUrl = `redis://127.0.0.1:6379/0?prefix=${encodeURIComponent(prefix)}`;
      const pgUrl = `postgres://${SHARED.user}@${SHARED.host}:${SHARED.port}/${SHARED.database}?schema=${schema}&prefix=${encodeURIComponent(prefix)}`;
      [from, to, urls] =
        direction === 'Redis -> Postgres'
          ? [onRedis, onPostgres, { from: redisUrl, to: pgUrl }]
          : [onPostgres, onRedis, { from: pgUrl, to: redisUrl }];
    });
    after(async () => {
      await from.close();
      await to.close();
      const stale = await redis.keys(`${prefix}*`);
      if (stale.length) await redis.del(...stale);
      redis.disconnect();
      await db.end();
      await dropSchema(schema);
      await emulator.stop();
    });

    it('copies every grant as sealed, leaves every newer one, reports the skips; a second run copies nothing', async () => {
      const signedIn = new Map<string, Credentials>();
      for (const id of ORGS) {
        signedIn.set(id, await seedGrant(emulator, from, id, ARRIVING.includes(id) ? -1_000 : 3_600_000));
      }
      for (const id of TWICE) await seedGrant(emulator, from, id, 3_600_000);
      for (const id of GONE) {
        const creds = signedIn.get(id)!;
        await from.forget(id, [{ grantId: creds.grantId, refreshToken: creds.refreshToken }]);
      }
      await sleep(5); // versions are clock-based: the destination's sign-ins below come later
      for (const id of NEWER) await seedGrant(emulator, to, id, 3_600_000);
      const before = new Map(await Promise.all(ORGS.map(async (id) => [id, await from.exportSealed(id)] as const)));

      // The app, already on the destination, refreshing whatever is there, all through the copy.
      const tokens = new TokenManager({ store: to, client: clientOf(emulator) });
      const latest = new Map<string, Credentials>();
      const uncertain = new Set<string>();
      let copying = true;
      let refreshedDuringCopy = 0;
      const refreshing = [...ARRIVING, ...NEWER].map(async (id) => {
        while (copying) {
          try {
            const creds = await tokens.credentials(id);
            latest.set(id, await tokens.credentials(id, { rejected: creds.accessToken }));
            refreshedDuringCopy += 1;
          } catch {
            if (latest.has(id)) uncertain.add(id);
            await sleep(2); // not copied yet
          }
        }
      });
      // Each import a little slow, so that the refreshes land between the copy's steps.
      const slowTo: SealedStore = {
        sealedKeys: () => to.sealedKeys(),
        exportSealed: (key) => to.exportSealed(key),
        importSealed: async (key, record) => {
          await sleep(3);
          return to.importSealed(key, record);
        },
      };
      const report = await copyGrants(from, slowTo, { concurrency: 2, progressEvery: 10 });
      const refreshedWhileCopying = refreshedDuringCopy;
      // A key copied last may not have been refreshed yet: once more each, then the app stops.
      while (![...ARRIVING, ...NEWER].every((id) => latest.has(id))) await sleep(5);
      copying = false;
      await Promise.all(refreshing);
      await tokens.idle();
      tokens.close();

      expect(refreshedWhileCopying, 'refreshes during the copy').to.be.greaterThan(ARRIVING.length);
      expect(report.failed).to.deep.equal([]);
      expect(report.read).to.equal(ORGS.length);
      expect([...report.skipped['newer-at-destination']].sort()).to.deep.equal(NEWER);
      expect(report.skipped['same-version']).to.deep.equal([]);
      expect(report.copied).to.equal(ORGS.length - NEWER.length);
      expect(report.tombstones).to.equal(GONE.length);
      expect(report.retired).to.equal(TWICE.length);
      expect(report.kept, "the source's grants of the keys newer there").to.equal(NEWER.length);

      for (const id of ORGS) {
        const source = before.get(id)!;
        const copied = await to.exportSealed(id);
        expect(copied, id).to.not.equal(null);
        if (NEWER.includes(id) || ARRIVING.includes(id)) {
          // The destination's refreshes stand: newer than the source, the manager's last tokens current.
          expect(copied!.version, id).to.be.greaterThan(source.version);
          const stored = await to.get(id);
          expect(stored?.version, id).to.be.at.least(latest.get(id)!.version);
          // A call that failed (a slow store on a busy machine) may have written what it never told.
          if (!uncertain.has(id)) expect(stored?.refreshToken, id).to.equal(latest.get(id)?.refreshToken);
        } else {
          expect(copied, id).to.deep.equal(source);
        }
      }
      // Sealed as they were, the copies open on the destination with the same keyring.
      for (const id of TWICE) expect(await to.retired(id)).to.deep.equal(await from.retired(id));
      for (const id of GONE) expect(await to.get(id)).to.equal(null);
      // Where the destination was newer, the source's grant is kept there, retired: it still gets revoked.
      for (const id of NEWER) {
        expect((await to.retired(id)).map((g) => g.refreshToken)).to.deep.equal([signedIn.get(id)?.refreshToken]);
      }
      expect((await to.get(ORGS[40]))?.accessToken).to.equal(signedIn.get(ORGS[40])?.accessToken);

      // The command itself, run again: nothing copied, every key skipped with its reason.
      const again = await run(process.execPath, [BIN, 'copy-grants', '--from', urls.from, '--to', urls.to]);
      expect(again.stdout).to.match(new RegExp(`^copied 0 of ${ORGS.length} keys`));
      expect(again.stdout).to.not.match(/kept/);
      expect(again.stdout).to.contain(`skipped ${ARRIVING.length + NEWER.length} (newer-at-destination`);
      expect(again.stdout).to.contain(`skipped ${ORGS.length - ARRIVING.length - NEWER.length} (same-version`);
      expect(again.stderr).to.match(/copy-grants: 60 keys read, 0 copied, 60 skipped, 0 failed/);
      expect(`${again.stdout}${again.stderr}`).to.not.match(/secret|v1\./);
    });
  });
}

describe('copy-grants refuses what it cannot copy, with a stable code', function () {
  this.timeout(60_000);
  const keys = generateSealingKey('copy');

  it('fails a key sealed under another prefix (SAMSARA_SEAL), and copies the rest of nothing', async () => {
    const redis = new Redis({ host: '127.0.0.1', port: 6379 });
    const db = pool();
    const schema = testSchema('copybad');
    const prefix = `copy-${Math.random().toString(36).slice(2)}:`;
    const from = new RedisTokenStore({ client: redis, keys, prefix });
    const to = new PostgresTokenStore({ pool: db, keys, schema, prefix: `other-${prefix}` });
    try {
      await from.replace('2001', { accessToken: 'a-secret', refreshToken: 'r-secret', expiresAt: 1, grantId: 'g1' }, 3);
      const report = await copyGrants(from, to);
      expect(report.failed).to.deep.equal([{ key: '2001', code: 'SAMSARA_SEAL' }]);
      expect(report.copied).to.equal(0);
      expect(await to.exportSealed('2001')).to.equal(null);
    } finally {
      await from.close();
      await to.close();
      await redis.del(...(await redis.keys(`${prefix}*`)));
      redis.disconnect();
      await db.end();
      await dropSchema(schema);
    }
  });

  it('answers a bad command line with its usage (exit 2), an unknown scheme with SAMSARA_CONFIG (exit 1)', async () => {
    const bad = await run(process.execPath, [BIN, 'copy-grant', '--from', 'redis://x', '--to', 'redis://y']).catch(
      (err: { code: number; stderr: string }) => err,
    );
    expect(bad).to.include({ code: 2 });
    expect((bad as { stderr: string }).stderr).to.match(/Unknown or missing command[\s\S]*Usage: passport-samsara/);
    const scheme = await run(process.execPath, [
      BIN,
      'copy-grants',
      '--from',
      'mysql://root:hunter2@127.0.0.1/app',
      '--to',
      'redis://127.0.0.1:6379',
    ]).catch((err: { code: number; stderr: string }) => err);
    expect(scheme).to.include({ code: 1 });
    expect((scheme as { stderr: string }).stderr).to.match(/SAMSARA_CONFIG: Unknown store URL scheme "mysql:"/);
    expect((scheme as { stderr: string }).stderr).to.not.contain('hunter2');
  });

  it('never prints the password of a store it cannot reach', async () => {
    const down = await run(
      process.execPath,
      [BIN, 'copy-grants', '--from', 'postgres://app:hunter2@127.0.0.1:1/app', '--to', 'redis://127.0.0.1:6379'],
      { timeout: 30_000 },
    ).catch((err: { code: number; stderr: string }) => err);
    expect(down).to.include({ code: 1 });
    expect((down as { stderr: string }).stderr).to.match(/copy-grants: .*SAMSARA_STORE_UNAVAILABLE|ECONNREFUSED/);
    expect((down as { stderr: string }).stderr).to.not.contain('hunter2');
  });
});
