/**
 * `npm run build && npm run build:all && node build/bench/copy-grants.js [N]`: how long
 * `copy-grants` takes for N keys (default 5 000, each with one retired grant) from Redis
 * (127.0.0.1:6379, a prefix of its own) to Postgres (db `test`, a schema of its own) and back,
 * and the second, idempotent run that copies nothing. Prints keys per second; cleans up after.
 */
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { PostgresTokenStore, RedisTokenStore, generateSealingKey } from 'passport-samsara';
import { copyGrants } from '../lib/cli/copy-grants.js';
import type { SealedStore } from '../lib/tokens/sealed-record.js';

const N = Number(process.argv[2] ?? 5_000);
const keys = generateSealingKey('bench');
const tag = randomUUID().replaceAll('-', '').slice(0, 12);
const prefix = `bench-copy-${tag}:`;
const schemas = [`bench_copy_a_${tag}`, `bench_copy_b_${tag}`];

async function timed(what: string, from: SealedStore, to: SealedStore): Promise<void> {
  const started = process.hrtime.bigint();
  const report = await copyGrants(from, to);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const skipped = report.read - report.copied - report.failed.length;
  console.log(
    `${what.padEnd(34)} ${String(report.read).padStart(6)} keys  ${String(report.copied).padStart(6)} copied  ${String(skipped).padStart(6)} skipped  ${ms.toFixed(0).padStart(6)} ms  ${Math.round((report.read / ms) * 1000)} keys/s`,
  );
}

async function main(): Promise<void> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const pool = new Pool({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test', max: 20 });
  const onRedis = new RedisTokenStore({ client: redis, keys, prefix });
  const [pgA, pgB] = schemas.map((schema) => new PostgresTokenStore({ pool, keys, schema, prefix }));
  // Back to Redis needs the same prefix (values are sealed under it): another database, db 1.
  const redis1 = new Redis({ host: '127.0.0.1', port: 6379, db: 1 });
  const redisBack = new RedisTokenStore({ client: redis1, keys, prefix });
  try {
    for (let i = 0; i < N; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, N - i) }, async (_, j) => {
          const key = String(100_000 + i + j);
          for (const n of [1, 2]) {
            await onRedis.replace(
              key,
              {
                accessToken: `a${n}-${key}`,
                refreshToken: `r${n}-${key}`,
                expiresAt: Date.now() + 3.6e6,
                grantId: `g${n}-${key}`,
              },
              3,
            );
          }
        }),
      );
    }
    console.log(`copy-grants, ${N} keys (1 current + 1 retired grant each), concurrency 16 (the default)`);
    await timed('Redis -> Postgres', onRedis, pgA);
    await timed('Redis -> Postgres, again (no-op)', onRedis, pgA);
    await timed('Postgres -> Postgres', pgA, pgB);
    await timed('Postgres -> Redis (db 1)', pgA, redisBack);
  } finally {
    await onRedis.close();
    await redisBack.close();
    for (const store of [pgA, pgB]) await store?.close();
    for (const client of [redis, redis1]) {
      let cursor = '0';
      do {
        const [next, found] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (found.length) await client.del(...found);
      } while (cursor !== '0');
    }
    for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    redis.disconnect();
    redis1.disconnect();
    await pool.end();
  }
}

void main();
