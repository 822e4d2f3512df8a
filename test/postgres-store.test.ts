import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { PostgresTokenStore, generateSealingKey, type NewCredentials } from 'passport-samsara';
import { ConfigurationError, StoreUnavailableError } from 'passport-samsara/errors';
import type { Pool } from 'pg';
import { dropSchema, pool, testSchema } from './support/postgres.js';

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
    expect(rows).to.deep.equal([{ value: '1' }]);
    await db.query(`UPDATE "${schema}".meta SET value = '99' WHERE name = 'schema_version'`);
    const later = new PostgresTokenStore({ pool: db, keys, schema });
    const failure = await later.get('1001').catch((err: unknown) => err);
    expect(failure).to.be.instanceOf(ConfigurationError);
    expect((failure as Error).message).to.match(/version 99.*newer release/);
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
      const waiting = polling.waitForChange('p1', version, Date.now() + 5_000);
      await sleep(100);
      await store.update('p1', grant(1), version);
      await waiting;
      expect(Date.now() - started).to.be.below(3_000);
      await lock?.release();
    } finally {
      await polling.close();
      await dead.end();
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
