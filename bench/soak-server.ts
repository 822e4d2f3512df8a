/**
 * One process of the soak's fleet: the mountable Samsara app (passport-samsara/app) as the
 * example runs it, with tokens and sessions in the soak's own Redis, on loopback. Its token
 * manager refreshes 1 s before expiry (the emulator's tokens live a few seconds). Forked by
 * soak.ts; answers `measure` with its memory (after full collections), `{ snapshot }` by writing
 * a heap snapshot there, and `stop` by closing everything and reporting what is still open, then
 * exits on its own.
 */
import Redis from 'ioredis';
import type { AddressInfo } from 'node:net';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { getHeapCodeStatistics, writeHeapSnapshot } from 'node:v8';
import { RedisTokenStore, TokenManager } from 'passport-samsara';
import { createSamsaraApp } from 'passport-samsara/app';

export interface SoakServerConfig {
  redisPort: number;
  keys: string;
  client: { clientID: string; clientSecret: string; baseURL: string };
  skew: number;
}

export interface Memory {
  rss: number;
  heapUsed: number;
  /**
   * V8's compiled code and bytecode with their metadata (v8.getHeapCodeStatistics): what grows as
   * functions turn hot and are optimized, or are flushed and compiled again; not retained objects.
   */
  code: number;
}

export type SoakMessage = 'measure' | 'stop' | { snapshot: string };

export type SoakReply =
  { port: number } | { memory: Memory } | { snapshot: string } | { stopped: true; resources: string[] };

const send = (reply: SoakReply): void => {
  process.send?.(reply);
};

/**
 * Full collections until the heap stops shrinking: one gc() can leave garbage that only a later
 * collection frees (weak references, finalizers, objects freed by callbacks that run on the loop).
 */
async function settle(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  let before = Infinity;
  for (let i = 0; i < 5; i++) {
    gc();
    await yieldToLoop();
    const used = process.memoryUsage().heapUsed;
    if (used >= before - 64 * 1024) break;
    before = used;
  }
}

async function memory(): Promise<Memory> {
  await settle();
  const { rss, heapUsed } = process.memoryUsage();
  const { code_and_metadata_size, bytecode_and_metadata_size } = getHeapCodeStatistics();
  return { rss, heapUsed, code: code_and_metadata_size + bytecode_and_metadata_size };
}

function main(config: SoakServerConfig): void {
  // Reconnects fast: the soak restarts Redis under load.
  const redis = new Redis({ host: '127.0.0.1', port: config.redisPort, retryStrategy: () => 100 });
  redis.on('error', () => undefined);
  const store = new RedisTokenStore({ client: redis, keys: config.keys, prefix: 'soak:' });
  const tokens = new TokenManager({ store, client: config.client, skew: config.skew });
  const app = createSamsaraApp({
    tokens,
    redis,
    sessionSecret: 'soak-session-secret-0123456789',
    sealingKeys: config.keys,
  });
  const server = app.listen(0, '127.0.0.1', () => {
    send({ port: (server.address() as AddressInfo).port });
  });
  process.on('message', (message: SoakMessage) => {
    if (message === 'measure') {
      void memory().then((m) => send({ memory: m }));
      return;
    }
    if (typeof message === 'object') {
      void settle().then(() => send({ snapshot: writeHeapSnapshot(message.snapshot) }));
      return;
    }
    server.close();
    server.closeAllConnections();
    void (async () => {
      await tokens.idle();
      await store.close();
      await redis.quit().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
      // What keeps the event loop alive besides the IPC channel to the soak.
      const resources = process.getActiveResourcesInfo().filter((r) => r !== 'PipeWrap');
      send({ stopped: true, resources });
      process.disconnect();
    })();
  });
}

if (require.main === module) main(JSON.parse(process.argv[2]) as SoakServerConfig);
