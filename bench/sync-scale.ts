/**
 * `npm run bench -- --only=sync-scale`: the sync's memory over 10 000 organizations
 * (`SYNC_SCALE_ORGS`). The job (example/sync.ts's syncOrganizations, 16 at a time, on a Redis
 * store and the fleet-wide limiter) runs in a process of its own, which samples its heap after a
 * full GC every 1 000 organizations; the emulator (1 vehicle each) runs here, so its own maps are
 * not counted. Flat means the last sample is within a few MiB of the first.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { RedisTokenStore, TokenManager, generateSealingKey } from 'passport-samsara';
import { startSamsaraEmulator } from 'passport-samsara/testing';
import { syncOrganizations } from '../example/sync.js';

export const SYNC_SCALE = {
  organizations: Number(process.env.SYNC_SCALE_ORGS ?? 10_000),
  every: 1_000,
  concurrency: 16,
};

interface ScaleConfig {
  prefix: string;
  keys: string;
  emulator: { clientID: string; clientSecret: string; baseURL: string };
}

export interface SyncScaleResult {
  organizations: number;
  synced: number;
  seconds: number;
  /** Heap used after a full GC, MiB, every 1 000 organizations done. */
  heapMiB: number[];
}

async function child(config: ScaleConfig): Promise<Omit<SyncScaleResult, 'organizations'>> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const store = new RedisTokenStore({ client: redis, keys: config.keys, prefix: config.prefix });
  const tokens = new TokenManager({ store, client: config.emulator });
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
  const heapMiB: number[] = [];
  let done = 0;
  const started = Date.now();
  const summary = await syncOrganizations(tokens, {
    concurrency: SYNC_SCALE.concurrency,
    progress: {
      vehicles: () => undefined,
      organizationDone: () => {
        if (++done % SYNC_SCALE.every !== 0) return;
        gc();
        heapMiB.push(process.memoryUsage().heapUsed / 2 ** 20);
      },
    },
  });
  await store.close();
  redis.disconnect();
  return { synced: summary.synced, seconds: (Date.now() - started) / 1000, heapMiB };
}

export async function syncScale(): Promise<SyncScaleResult> {
  const orgIds = Array.from({ length: SYNC_SCALE.organizations }, (_, i) => String(100_001 + i));
  const emulator = await startSamsaraEmulator({
    organizations: orgIds.map((id) => ({ id, name: `Fleet ${id}`, vehicleCount: 1 })),
  });
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const prefix = `bench-scale-${randomUUID()}:`;
  const keys = generateSealingKey('bench');
  const store = new RedisTokenStore({ client: redis, keys, prefix });
  const client = { clientID: emulator.clientID, clientSecret: emulator.clientSecret, baseURL: emulator.baseURL };
  const tokens = new TokenManager({ store, client });
  try {
    for (const orgId of orgIds) {
      const grant = emulator.issueGrant(orgId);
      await tokens.connect(orgId, { ...grant, expiresAt: Date.now() + 3_600_000 });
    }
    const worker = fork(__filename, [JSON.stringify({ prefix, keys, emulator: client } satisfies ScaleConfig)], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const result = await new Promise<Omit<SyncScaleResult, 'organizations'>>((resolve, reject) => {
      worker.once('message', (m: Omit<SyncScaleResult, 'organizations'>) => resolve(m));
      worker.once('exit', (code) => reject(new Error(`sync-scale worker exited with ${code}`)));
    });
    return { organizations: orgIds.length, ...result };
  } finally {
    await store.close();
    const stale = await redis.keys(`${prefix}*`);
    for (let i = 0; i < stale.length; i += 1_000) await redis.del(...stale.slice(i, i + 1_000));
    redis.disconnect();
    await emulator.stop();
  }
}

export function syncScaleTable(r: SyncScaleResult): string {
  const heap = r.heapMiB.map((m) => m.toFixed(1)).join(', ');
  const growth = (r.heapMiB.at(-1) ?? 0) - (r.heapMiB[0] ?? 0);
  return [
    `### The sync's memory over ${r.organizations} organizations (${SYNC_SCALE.concurrency} at a time, Redis store, fleet-wide limiter)`,
    '',
    `Synced ${r.synced} of ${r.organizations} in ${r.seconds.toFixed(1)} s. Heap after a full GC every ${SYNC_SCALE.every} organizations (MiB): ${heap}; first to last: ${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MiB.`,
  ].join('\n');
}

if (require.main === module) {
  child(JSON.parse(process.argv[2]) as ScaleConfig).then(
    (result) => process.send?.(result, () => process.exit(0)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
