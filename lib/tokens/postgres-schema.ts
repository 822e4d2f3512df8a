// The schema of PostgresTokenStore: its tables and the PL/pgSQL functions that make each write
// one atomic round trip (as the Lua scripts do on Redis), created or migrated by `migrate`.
import { createHash } from 'node:crypto';
import { ConfigurationError } from '../errors/index.js';
import { inTransaction, type PostgresClientLike, type PostgresPoolLike } from './postgres-client.js';

/**
 * The schema version this release writes and reads; it migrates from an older one. 2: `grants.written_fp`
 * (idempotent writes), `write` answers the stored grant, `extend`, the `webhooks` table. 3: `write`
 * notifies the sealed value too (`c <version> <sealed> <key>`), before its `<version> <key>`.
 */
export const SCHEMA_VERSION = 3;

/** A quoted SQL identifier. */
export function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The NOTIFY channel of a schema: one per schema, whatever its name's length or characters. */
export function channelOf(schema: string): string {
  return `samsara_${createHash('sha256').update(schema).digest('hex').slice(0, 24)}`;
}

// Tables, in schema S:
//   meta     name -> value: `schema_version`, and `epoch` (a random id: gone means the data is gone).
//   grants   one row per key: version (grows on every write, starts at the clock), sealed (the
//            current grant; null: a tombstone), its grant id and refresh token fingerprint, the
//            non-secret status in the clear for listing (expiry, written at, region, client id),
//            revivable (the version a dead-grant removal replaced), and written_fp (the fingerprint
//            of everything written: what tells the same write made again).
//   retired  the retired grants of each key, sealed, with fingerprints; seq orders them oldest first.
//   locks    the refresh lease of each key: the holder's unique name and its expiry (ms, the
//            database's clock). Expired rows are taken over, never waited on.
//   claims   TokenStore.claim: name -> holder token, done, expiry.
//   webhooks TokenStore.saveWebhook: key -> the webhook's id (in the clear, for the CAS) and the
//            sealed record. Apart from grants: a sign-in, refresh or removal leaves it as it is.
// Keys are COLLATE "C": listing walks them in byte order, whatever the database's collation.
function tablesSql(s: string): string {
  return `
CREATE TABLE IF NOT EXISTS ${s}.grants (
  key text COLLATE "C" PRIMARY KEY, version bigint NOT NULL, sealed text, grant_id text,
  fingerprint text, expires_at bigint, written_at bigint, region text, client_id text, revivable bigint);
CREATE TABLE IF NOT EXISTS ${s}.retired (
  key text COLLATE "C" NOT NULL, grant_id text NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY,
  sealed text NOT NULL, fingerprint text NOT NULL, PRIMARY KEY (key, grant_id));
CREATE TABLE IF NOT EXISTS ${s}.locks (key text COLLATE "C" PRIMARY KEY, token text NOT NULL, expires_at bigint NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.claims (name text PRIMARY KEY, token text NOT NULL, done boolean NOT NULL, expires_at bigint NOT NULL);
CREATE INDEX IF NOT EXISTS claims_expiry ON ${s}.claims (expires_at);
ALTER TABLE ${s}.grants ADD COLUMN IF NOT EXISTS written_fp text;
CREATE TABLE IF NOT EXISTS ${s}.webhooks (key text COLLATE "C" PRIMARY KEY, id text NOT NULL, sealed text NOT NULL);
DROP FUNCTION IF EXISTS ${s}.write(text, bigint, text, text, text, int, bigint, text, text);`;
}

function functionsSql(s: string, channel: string): string {
  const notify = (payload: string): string => `PERFORM pg_notify('${channel}', ${payload});`;
  return `
CREATE OR REPLACE FUNCTION ${s}.now_ms() RETURNS bigint LANGUAGE sql VOLATILE AS
  $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

CREATE OR REPLACE FUNCTION ${s}.keep_retired(k text, id text, s text, fp text, max int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ${s}.retired AS r (key, grant_id, sealed, fingerprint) VALUES (k, id, s, fp)
    ON CONFLICT (key, grant_id) DO UPDATE SET sealed = excluded.sealed, fingerprint = excluded.fingerprint;
  DELETE FROM ${s}.retired WHERE key = k AND seq IN
    (SELECT seq FROM ${s}.retired WHERE key = k ORDER BY seq DESC OFFSET greatest(max, 0));
END $$;

-- expected null: a sign-in (retires a different current grant), unless its grant is already
-- current: then nothing is written and the stored grant answers (sealed; a refresh may have
-- rotated it since). Else a compare-and-set on the version, or on the version a dead-grant
-- removal replaced; the very credentials already current (same written_fp: a write made again)
-- answer their version. Version null: lost. sealed null: what was given is what is stored.
CREATE OR REPLACE FUNCTION ${s}.write(k text, expected bigint, s text, id text, fp text, max int,
    exp bigint, rg text, ci text, wfp text, OUT version bigint, OUT sealed text) LANGUAGE plpgsql AS $$
DECLARE g ${s}.grants; v bigint;
BEGIN
  SELECT * INTO g FROM ${s}.grants WHERE key = k FOR UPDATE;
  IF NOT FOUND AND expected IS NULL THEN
    -- A first sign-in; one racing it may insert first: then its row is what this one read.
    INSERT INTO ${s}.grants (key, version) VALUES (k, ${s}.now_ms()) ON CONFLICT (key) DO NOTHING;
    SELECT * INTO g FROM ${s}.grants WHERE key = k FOR UPDATE;
  END IF;
  IF g.sealed IS NOT NULL AND g.grant_id = id THEN
    IF expected IS NULL THEN version := g.version; sealed := g.sealed; RETURN; END IF;
    IF g.written_fp = wfp THEN version := g.version; RETURN; END IF;
  END IF;
  IF expected IS NOT NULL AND NOT coalesce((g.sealed IS NOT NULL AND g.version = expected)
      OR (g.sealed IS NULL AND g.revivable = expected), false) THEN RETURN; END IF;
  IF expected IS NULL AND g.sealed IS NOT NULL THEN
    PERFORM ${s}.keep_retired(k, g.grant_id, g.sealed, g.fingerprint, max);
  END IF;
  v := g.version + 1;
  UPDATE ${s}.grants SET version = v, sealed = s, grant_id = id, fingerprint = fp, expires_at = exp,
    written_at = ${s}.now_ms(), region = rg, client_id = ci, revivable = NULL, written_fp = wfp WHERE key = k;
  -- First the sealed value, for waiters, when it fits a payload (8000 bytes; a longer one would
  -- fail the write); then what every listener reads, an older release's too.
  IF octet_length(s) + octet_length(k) < 7900 THEN ${notify(`'c ' || v || ' ' || s || ' ' || k`)} END IF;
  ${notify(`v || ' ' || k`)}
  version := v;
END $$;

CREATE OR REPLACE FUNCTION ${s}.retire(k text, id text, s text, fp text, max int, only_if_kept boolean)
    RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE g ${s}.grants;
BEGIN
  SELECT * INTO g FROM ${s}.grants WHERE key = k FOR UPDATE;
  IF FOUND AND g.sealed IS NOT NULL AND g.grant_id = id THEN RETURN true; END IF;
  IF only_if_kept AND (NOT FOUND OR g.sealed IS NULL)
      AND NOT EXISTS (SELECT 1 FROM ${s}.retired WHERE key = k) THEN RETURN false; END IF;
  IF NOT FOUND THEN
    INSERT INTO ${s}.grants (key, version) VALUES (k, ${s}.now_ms()) ON CONFLICT (key) DO NOTHING;
    PERFORM 1 FROM ${s}.grants WHERE key = k FOR UPDATE;
  END IF;
  PERFORM ${s}.keep_retired(k, id, s, fp, max);
  RETURN true;
END $$;

-- Removes the grants named, each only while it holds the fingerprint named. No current grant
-- left: the tombstone is final (no revival).
CREATE OR REPLACE FUNCTION ${s}.forget(k text, ids text[], fps text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE g ${s}.grants;
BEGIN
  SELECT * INTO g FROM ${s}.grants WHERE key = k FOR UPDATE;
  IF NOT FOUND THEN RETURN; END IF;
  DELETE FROM ${s}.retired r USING unnest(ids, fps) AS f(id, fp)
    WHERE r.key = k AND r.grant_id = f.id AND r.fingerprint = f.fp;
  IF g.sealed IS NOT NULL AND EXISTS
      (SELECT 1 FROM unnest(ids, fps) AS f(id, fp) WHERE f.id = g.grant_id AND f.fp = g.fingerprint) THEN
    UPDATE ${s}.grants SET version = g.version + 1, sealed = NULL, grant_id = NULL, fingerprint = NULL,
      revivable = NULL, written_fp = NULL WHERE key = k;
    ${notify(`(g.version + 1) || ' ' || k`)}
  ELSIF g.sealed IS NULL THEN
    UPDATE ${s}.grants SET revivable = NULL WHERE key = k;
  END IF;
END $$;

CREATE OR REPLACE FUNCTION ${s}.remove(k text, expected bigint) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE v bigint;
BEGIN
  UPDATE ${s}.grants SET version = version + 1, sealed = NULL, grant_id = NULL, fingerprint = NULL,
    written_fp = NULL, revivable = version WHERE key = k AND version = expected AND sealed IS NOT NULL RETURNING version INTO v;
  IF NOT FOUND THEN RETURN false; END IF;
  ${notify(`v || ' ' || k`)}
  RETURN true;
END $$;

-- The lease: taken when absent or expired. Taken: the key's version and sealed grant as they stand.
CREATE OR REPLACE FUNCTION ${s}.lock(k text, tok text, ttl bigint, OUT taken boolean, OUT version bigint,
    OUT sealed text) LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ${s}.locks AS l (key, token, expires_at) VALUES (k, tok, ${s}.now_ms() + ttl)
    ON CONFLICT (key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
    WHERE l.expires_at <= ${s}.now_ms();
  taken := FOUND;
  IF taken THEN SELECT g.version, g.sealed INTO version, sealed FROM ${s}.grants g WHERE g.key = k; END IF;
END $$;

-- The holder keeps its lease for ttl more, or takes it again once it vanished or expired; false
-- while someone else holds it.
CREATE OR REPLACE FUNCTION ${s}.extend(k text, tok text, ttl bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ${s}.locks AS l (key, token, expires_at) VALUES (k, tok, ${s}.now_ms() + ttl)
    ON CONFLICT (key) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
    WHERE l.token = tok OR l.expires_at <= ${s}.now_ms();
  RETURN FOUND;
END $$;

CREATE OR REPLACE FUNCTION ${s}.unlock(k text, tok text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM ${s}.locks WHERE key = k AND token = tok;
  IF FOUND THEN ${notify(`'u ' || k`)} END IF;
END $$;

-- 1: claimed; 0: pending elsewhere; 2: done. Sweeps a few expired claims on the way.
CREATE OR REPLACE FUNCTION ${s}.claim(n text, tok text, ttl bigint) RETURNS int LANGUAGE plpgsql AS $$
DECLARE d boolean;
BEGIN
  DELETE FROM ${s}.claims WHERE name IN
    (SELECT name FROM ${s}.claims WHERE expires_at <= ${s}.now_ms() AND name <> n LIMIT 5 FOR UPDATE SKIP LOCKED);
  INSERT INTO ${s}.claims AS c (name, token, done, expires_at) VALUES (n, tok, false, ${s}.now_ms() + ttl)
    ON CONFLICT (name) DO UPDATE SET token = excluded.token, done = false, expires_at = excluded.expires_at
    WHERE c.expires_at <= ${s}.now_ms();
  IF FOUND THEN RETURN 1; END IF;
  SELECT c.done INTO d FROM ${s}.claims c WHERE c.name = n;
  RETURN CASE WHEN d THEN 2 ELSE 0 END;
END $$;

-- keep null: release; else complete, kept as done for keep ms. Only a pending claim of this holder.
CREATE OR REPLACE FUNCTION ${s}.settle(n text, tok text, keep bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF keep IS NULL THEN
    DELETE FROM ${s}.claims WHERE name = n AND token = tok AND NOT done AND expires_at > ${s}.now_ms();
  ELSE
    UPDATE ${s}.claims SET done = true, expires_at = ${s}.now_ms() + keep
      WHERE name = n AND token = tok AND NOT done AND expires_at > ${s}.now_ms();
  END IF;
END $$;

-- Compare-and-set of the webhook record on its id (expected null: none stored); wid null deletes.
CREATE OR REPLACE FUNCTION ${s}.save_webhook(k text, expected text, wid text, s text) RETURNS boolean
    LANGUAGE plpgsql AS $$
DECLARE cur text;
BEGIN
  SELECT w.id INTO cur FROM ${s}.webhooks w WHERE w.key = k FOR UPDATE;
  IF cur IS DISTINCT FROM expected THEN RETURN false; END IF;
  IF wid IS NULL THEN DELETE FROM ${s}.webhooks WHERE key = k; RETURN true; END IF;
  INSERT INTO ${s}.webhooks AS w (key, id, sealed) VALUES (k, wid, s)
    ON CONFLICT (key) DO UPDATE SET id = excluded.id, sealed = excluded.sealed WHERE w.id = expected;
  RETURN FOUND;
END $$;`;
}

/**
 * Runs `work` in one transaction that holds the schema's advisory transaction lock, once the
 * schema exists: every DDL of the package in a schema (the token store's, the rate limiter's)
 * goes through it, so concurrent processes take turns and PgBouncer's transaction mode is fine.
 */
export async function inSchemaMigration(
  pool: PostgresPoolLike,
  schema: string,
  work: (client: PostgresClientLike) => Promise<void>,
): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`passport-samsara:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    await work(client);
  });
}

/**
 * Creates the schema, its tables and functions, or checks that they are this release's, in one
 * migration transaction ({@link inSchemaMigration}). A schema written by a newer release is refused.
 */
export async function migrate(pool: PostgresPoolLike, schema: string): Promise<void> {
  const s = ident(schema);
  await inSchemaMigration(pool, schema, async (client) => {
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.meta (name text PRIMARY KEY, value text NOT NULL)`);
    const { rows } = await client.query(`SELECT value FROM ${s}.meta WHERE name = 'schema_version'`);
    const found = Number((rows as { value: string }[]).at(0)?.value ?? 0);
    if (found > SCHEMA_VERSION) {
      throw new ConfigurationError(
        `The token store's schema ${schema} is at version ${found}, written by a newer release of passport-samsara (this one knows ${SCHEMA_VERSION}); upgrade this process.`,
      );
    }
    if (found < SCHEMA_VERSION) {
      await client.query(tablesSql(s));
      await client.query(functionsSql(s, channelOf(schema)));
      await client.query(
        `INSERT INTO ${s}.meta (name, value) VALUES ('schema_version', $1)
           ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
        [String(SCHEMA_VERSION)],
      );
    }
  });
}
