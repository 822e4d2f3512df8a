import { ConfigurationError } from '../errors/index.js';
import { generateSealingKey } from '../tokens/seal.js';
import type { SealedStore } from '../tokens/sealed-record.js';

/**
 * A store opened from a URL, and how to close it (its connections too).
 *
 * @example
 * ```ts
 * const { store, close } = await openStore('postgres://127.0.0.1/app?schema=samsara');
 * ```
 */
export interface OpenedStore {
  store: SealedStore;
  close(): Promise<void>;
}

const SCHEMES = 'redis://, rediss://, postgres:// or postgresql://';

/**
 * Opens a store from `redis://`, `rediss://`, `postgres://` or `postgresql://` URLs. Query
 * parameters of the package's own, taken off before the URL reaches the driver: `prefix` (both;
 * default `samsara:`) and `schema` (Postgres; default `samsara`). The stores get a throwaway
 * sealing key: copying opens nothing, so none of the real keys is needed or read.
 * Throws `ConfigurationError` for any other URL, or when the driver (`ioredis`, `pg`) is missing.
 *
 * @example
 * ```ts
 * const opened = await openStore('redis://127.0.0.1:6379/0?prefix=samsara:');
 * ```
 */
export async function openStore(text: string): Promise<OpenedStore> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigurationError(`Not a URL: expected ${SCHEMES}.`);
  }
  const prefix = url.searchParams.get('prefix') ?? undefined;
  const schema = url.searchParams.get('schema') ?? undefined;
  url.searchParams.delete('prefix');
  url.searchParams.delete('schema');
  const keys = generateSealingKey('copy');
  if (url.protocol === 'redis:' || url.protocol === 'rediss:') {
    if (schema) throw new ConfigurationError('A Redis URL takes prefix=, not schema=.');
    const { default: Redis } = await driver<typeof import('ioredis')>('ioredis');
    const client = new Redis(url.toString(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect().catch((err: unknown) => {
      client.disconnect();
      throw err;
    });
    const { RedisTokenStore } = await import('../tokens/redis-store.js');
    const store = new RedisTokenStore({ client, keys, ...(prefix ? { prefix } : {}) });
    return {
      store,
      close: async () => {
        await store.close();
        client.disconnect();
      },
    };
  }
  if (url.protocol === 'postgres:' || url.protocol === 'postgresql:') {
    const { Pool } = await driver<typeof import('pg')>('pg');
    const pool = new Pool({ connectionString: url.toString(), max: 4 });
    pool.on('error', () => undefined);
    const { PostgresTokenStore } = await import('../tokens/postgres-store.js');
    const store = new PostgresTokenStore({ pool, keys, ...(prefix ? { prefix } : {}), ...(schema ? { schema } : {}) });
    return {
      store,
      close: async () => {
        await store.close();
        await pool.end();
      },
    };
  }
  throw new ConfigurationError(`Unknown store URL scheme "${url.protocol}": expected ${SCHEMES}.`);
}

async function driver<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch {
    throw new ConfigurationError(`This store needs the "${name}" package: npm install ${name}.`);
  }
}
