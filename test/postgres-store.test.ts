import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PostgresTokenStore, generateSealingKey, type NewCredentials } from 'passport-samsara';
import { ConfigurationError, StoreUnavailableError } from 'passport-samsara/errors';
import type { Pool } from 'pg';
import { dropSchema, pool, testSchema } from './support/postgres.js';

/** Schema 1 as the release before the webhook record wrote it (test/fixtures/postgres-schema-1.sql). */
const SCHEMA_1 = readFileSync(
  join(dirname(require.resolve('passport-samsara/package.json')), 'test', 'fixtures', 'postgres-schema-1.sql'),
  'utf8',
);

const grant = (n: number): NewCredentials => ({
  accessToken: `access-secret-${n}`,
  refreshToken: `refresh-secret-${n}`,
  expiresAt: 1_900_000_000_000,
  grantId: `g${n}`,
});

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('PostgresTokenStore on its own', () => {
  const keys = generateSealingKey('kpg');
  let schema: string;
  let db: Pool;
  let store: PostgresTokenStore;

  beforeEach(() => {
    schema = testSchema('pg');
    db = pool();
    store = new PostgresTokenStore({ pool: db, keys, schema, timeout: 1_000 });
  });
  afterEach(async () => {
    await store.close();
    await db.end();
    await dropSchema(schema);
  });

  it('keeps every token sealed at rest: a dump of its tables holds none', async () => {
    await store.replace('1001', grant(1), 3);
    await store.replace('1001', grant(2), 3);
    const { rows } = await db.query(
      `SELECT row_to_json(g)::text AS line FROM "${schema}".grants g
       UNION ALL SELECT row_to_json(r)::text FROM "${schema}".retired r`,
    );
    const dump = rows.map((row: { line: string }) => row.line).join('\n');
    expect(rows).to.have.length(2);
    expect(dump).to.not.match(/secret/);
    expect(dump).to.match(/v1\.kpg\./);
  });

  it('records its schema version, and refuses a schema a newer release wrote', async () => {
    await store.migrate();
    const { rows } = await db.query(`SELECT value FROM "${schema}".meta WHERE name = 'schema_version'`);
    expect(rows).to.deep.equal([{ value: '3' }]);
    await db.query(`UPDATE "${schema}".meta SET value = '99' WHERE name = 'schema_version'`);
    const later = new PostgresTokenStore({ pool: db, keys, schema });
    const failure = await later.get('1001').catch((err: unknown) => err);
    expect(failure).to.be.instanceOf(ConfigurationError);
    expect((failure as Error).message).to.match(/version 99.*newer release/);
  });

  it('migrates a schema 1 to the current one (3): its grants stay, and retried writes, lease extension and the webhook record work', async () => {
    await db.query(SCHEMA_1.replaceAll(':schema', `"${schema}"`).replaceAll(':channel', 'samsara_schema_1'));
    // A grant written by schema 1's own write() (9 arguments, no written_fp), sealed as this
    // keyring seals it (the sealing name does not depend on the schema).
    const sealer = new PostgresTokenStore({ pool: db, keys, schema: `${schema}_sealer` });
    await sealer.replace('1001', grant(1), 3);
    const { rows: sealed } = await db.query(`SELECT sealed FROM "${schema}_sealer".grants WHERE key = '1001'`);
    await dropSchema(`${schema}_sealer`);
    await db.query(`SELECT "${schema}".write('1001', NULL, $1, 'g1', 'fp', 3, 1900000000000, NULL, NULL)`, [
      (sealed[0] as { sealed: string }).sealed,
    ]);

    const { version } = (await store.get('1001'))!;
    expect(await store.get('1001')).to.deep.equal({ ...grant(1), version });
    const { rows: meta } = await db.query(`SELECT value FROM "${schema}".meta WHERE name = 'schema_version'`);
    expect(meta).to.deep.equal([{ value: '3' }]);
    const { rows: writes } = await db.query(
      `SELECT pronargs FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = $1 AND p.proname = 'write'`,
      [schema],
    );
    expect(writes, "schema 1's write() is dropped, not left as an overload").to.deep.equal([{ pronargs: 10 }]);
    expect(await store.replace('1001', grant(1), 3), 'the same grant signed in again').to.deep.equal({
      ...grant(1),
      version,
    });
    const rotated = { ...grant(1), accessToken: 'access-secret-1b', refreshToken: 'refresh-secret-1b' };
    const next = await store.update('1001', rotated, version);
    expect(next).to.deep.equal({ ...rotated, version: version + 1 });
    expect(await store.update('1001', rotated, version), 'written again').to.deep.equal(next);
    const lease = (await store.lock('1001', 5_000))!;
    expect(await lease.extend!(5_000)).to.equal(true);
    await lease.release();
    const hook = { id: 'w1', url: 'https://a.example/h', secretKey: 'c2VjcmV0' };
    expect(await store.saveWebhook('1001', hook, null)).to.equal(true);
    expect(await store.webhook('1001')).to.deep.equal(hook);
  });

  it('sign-ins of one grant racing on a new key: one writes, every other answers it, none is retired', async () => {
    for (let round = 0; round < 5; round++) {
      const key = `race-${round}`;
      const written = await Promise.all(Array.from({ length: 8 }, () => store.replace(key, grant(1), 3)));
      expect(
        written.map((each) => each.version),
        'one version',
      ).to.deep.equal(written.map(() => written[0]?.version));
      expect(await store.retired(key)).to.deep.equal([]);
    }
  });

  it('keeps the webhook secret sealed at rest, apart from the grant', async () => {
    await store.replace('1001', grant(1), 3);
    await store.saveWebhook('1001', { id: 'w1', url: 'https://a.example/h', secretKey: 'c2VjcmV0LXdlYmhvb2s=' }, null);
    const { rows } = await db.query(`SELECT row_to_json(w)::text AS line FROM "${schema}".webhooks w`);
    expect(rows).to.have.length(1);
    expect((rows[0] as { line: string }).line).to.not.match(/c2VjcmV0LXdlYmhvb2s|a\.example/);
    expect((rows[0] as { line: string }).line).to.match(/"id":"w1".*v1\.kpg\./);
    await store.forget('1001', [{ grantId: 'g1', refreshToken: 'refresh-secret-1' }]);
    expect(await store.webhook('1001')).to.deep.include({ id: 'w1', secretKey: 'c2VjcmV0LXdlYmhvb2s=' });
  });

  it('migrates once when many processes start at once', async () => {
    const stores = Array.from({ length: 6 }, () => new PostgresTokenStore({ pool: db, keys, schema }));
    await Promise.all(stores.map((each, i) => each.replace(`k${i}`, grant(i), 3)));
    expect((await store.get('k5'))?.accessToken).to.equal('access-secret-5');
  });

  it('lists in key order, page by page (keyset pagination)', async () => {
    const paged = new PostgresTokenStore({ pool: db, keys, schema, listBatchSize: 2 });
    for (const key of ['b', 'a', 'é', 'c', 'B']) await store.replace(key, grant(1), 3);
    const listed: string[] = [];
    for await (const org of paged.list()) listed.push(org.orgId);
    expect(listed).to.deep.equal(['B', 'a', 'b', 'c', 'é']);
  });

  it('watch: tells every change by another pool, goes dark when its connection is killed, and comes back', async () => {
    const other = pool();
    const writer = new PostgresTokenStore({ pool: other, keys, schema });
    try {
      await store.migrate();
      const heard: (string | undefined)[] = [];
      const watch = store.watch((key) => heard.push(key));
      await until(() => watch.live, 'the watch to be live');
      await writer.replace('w1', grant(1), 3);
      await until(() => heard.includes('w1'), 'the write to be told');
      // Once, by its key: the notification that carries the credentials (sent first) is the waiters'.
      expect(heard).to.deep.equal(['w1']);
      await other.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN "samsara_%' AND pid <> pg_backend_pid()`,
      );
      await until(() => heard.includes(undefined), 'the lost connection to be told');
      await until(() => watch.live, 'the watch to be live again');
      heard.length = 0;
      await writer.replace('w2', grant(2), 3);
      await until(() => heard.includes('w2'), 'a write after the reconnect to be told');
      watch.close();
      expect(watch.live).to.equal(false);
    } finally {
      await writer.close();
      await other.end();
    }
  });

  it('waitForChange falls back on its poll when LISTEN is unavailable', async () => {
    const dead = pool({ port: 1, connectionTimeoutMillis: 200 });
    const polling = new PostgresTokenStore({ pool: db, listenPool: dead, keys, schema, pollInterval: 50 });
    try {
      const { version } = await store.replace('p1', grant(1), 3);
      const lock = await store.lock('p1', 10_000);
      const started = Date.now();
      const waiting = polling.waitForChange('p1', version, 5_000);
      await sleep(100);
      // New tokens: the very ones already current would be a retried write, which changes nothing.
      await store.update('p1', { ...grant(1), accessToken: 'access-secret-1b' }, version);
      await waiting;
      expect(Date.now() - started).to.be.below(3_000);
      await lock?.release();
    } finally {
      await polling.close();
      await dead.end();
    }
  });

  it('a wait woken by a write resolves with what the write made, so the waiter reads nothing; a value too long for a NOTIFY still wakes it, with nothing', async () => {
    // The waiter's own pool, whose state reads are told: a write sent once the wait has subscribed
    // and read the state is one only its notification can tell (the waiter polls every 10 s).
    const waiterPool = pool();
    const query = waiterPool.query.bind(waiterPool) as (...args: unknown[]) => Promise<unknown>;
    let stateRead = (): void => undefined;
    (waiterPool as unknown as { query: typeof query }).query = async (...args) => {
      const answer = await query(...args);
      if (String(args[0]).includes('lock_ms')) stateRead();
      return answer;
    };
    const nextStateRead = (): Promise<void> => new Promise((resolve) => (stateRead = resolve));
    const waiter = new PostgresTokenStore({ pool: waiterPool, keys, schema, pollInterval: 10_000 });
    try {
      const { version } = await store.replace('n1', grant(1), 3);
      const lock = await store.lock('n1', 10_000);
      let read = nextStateRead();
      const woken = waiter.waitForChange('n1', version, 5_000);
      await read;
      const rotated = { ...grant(1), accessToken: 'access-secret-1b', refreshToken: 'refresh-secret-1b' };
      expect(await store.update('n1', rotated, version)).to.not.equal(null);
      expect(await woken).to.deep.equal(await store.get('n1'));

      // Sealed, these tokens exceed what a NOTIFY carries: the write lands, and its plain
      // notification wakes the waiter, which then reads.
      const long = { ...rotated, accessToken: 'a'.repeat(8_000) };
      read = nextStateRead();
      const started = Date.now();
      const wokenAgain = waiter.waitForChange('n1', version + 1, 5_000);
      await read;
      expect(await store.update('n1', long, version + 1)).to.not.equal(null);
      expect(await wokenAgain).to.equal(undefined);
      expect(Date.now() - started, 'woken, not polled').to.be.below(3_000);
      expect((await waiter.get('n1'))?.accessToken).to.equal(long.accessToken);
      await lock?.release();
    } finally {
      await waiter.close();
      await waiterPool.end();
    }
  });

  it("keys named 'error' or holding spaces are notified like any other: watchers hear each by its key, a waiter gets its credentials", async () => {
    const heard: (string | undefined)[] = [];
    const watch = store.watch((key) => heard.push(key));
    const other = pool();
    const writer = new PostgresTokenStore({ pool: other, keys, schema });
    try {
      await until(() => watch.live, 'the watch to be live');
      // Nobody waits on 'error' (it once threw from the notification handler).
      await writer.replace('error', grant(1), 3);
      await until(() => heard.includes('error'), "the write of 'error' to be told");
      const spaced = 'org 7 c 9';
      const { version } = await writer.replace(spaced, grant(2), 3);
      await until(() => heard.includes(spaced), 'the write of a key with spaces to be told');
      const lock = await writer.lock(spaced, 10_000);
      const woken = store.waitForChange(spaced, version, 5_000);
      await sleep(100);
      const rotated = { ...grant(2), accessToken: 'access-secret-2b', refreshToken: 'refresh-secret-2b' };
      expect(await writer.update(spaced, rotated, version)).to.not.equal(null);
      expect(await woken).to.deep.equal(await writer.get(spaced));
      await until(() => heard.filter((key) => key === spaced).length === 2, 'the rotation to be told');
      expect(heard).to.deep.equal(['error', spaced, spaced]);
      await lock?.release();
    } finally {
      watch.close();
      await writer.close();
      await other.end();
    }
  });

  it('health and lost: a schema that vanished is lost data, for a key with no trace; it is created anew', async () => {
    await store.replace('lost-1', grant(1), 3);
    expect(await store.health()).to.deep.equal({ status: 'ok', reason: '' });
    expect(await store.lost('never')).to.equal(false);
    await dropSchema(schema);
    const health = await store.health();
    expect(health.status).to.equal('lost-data');
    expect(health.reason).to.match(/epoch row vanished/);
    expect(await store.get('lost-1')).to.equal(null);
    expect(await store.lost('lost-1')).to.equal(true);
    await store.replace('lost-2', grant(2), 3);
    await store.forget('lost-2', [{ grantId: 'g2', refreshToken: 'refresh-secret-2' }]);
    expect(await store.lost('lost-2'), 'a tombstone written since is history, not a loss').to.equal(false);
  });

  it('a database that does not answer is StoreUnavailableError, within the timeout, with no value in the message', async () => {
    await store.replace('slow', grant(1), 3);
    const holder = await db.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE "${schema}".grants IN ACCESS EXCLUSIVE MODE`);
      const started = Date.now();
      const failure = await store.get('slow').catch((err: unknown) => err);
      expect(failure).to.be.instanceOf(StoreUnavailableError);
      expect((failure as StoreUnavailableError).code).to.equal('SAMSARA_STORE_UNAVAILABLE');
      expect(Date.now() - started).to.be.below(2_500);
      expect((failure as Error).message).to.not.match(/secret/);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    const down = pool({ port: 1 });
    const nowhere = new PostgresTokenStore({ pool: down, keys, schema });
    const refused = await nowhere.get('slow').catch((err: unknown) => err);
    expect(refused).to.be.instanceOf(StoreUnavailableError);
    expect((await nowhere.health()).status).to.equal('unavailable');
    await down.end();
  });
});
