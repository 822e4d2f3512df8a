/**
 * Webhook upkeep: how long `tokens.webhooks.reconcile()` takes for many connected organizations,
 * against the emulator on loopback, memory store: the first pass (every webhook created), a pass
 * with nothing to do (one list each), and a pass after a tenth of the webhooks were deleted. Each
 * row says the writes Samsara saw and its 429s (there must be none).
 * Run: node build/bench/reconcile.js (after npm run build && npm run build:all).
 */
import { performance } from 'node:perf_hooks';
import { MemoryTokenStore, TokenManager, organizationWebhooks } from 'passport-samsara';
import { startSamsaraEmulator } from 'passport-samsara/testing';
import { runAlone, table } from './stats.js';

export const RECONCILE = { organizations: [300, 1000], concurrency: 8 };

export interface ReconcileRow extends Record<string, string | number> {
  organizations: number;
  pass: string;
  ms: number;
  'organizations/s': number;
  writes: number;
  '429s': number;
}

async function passes(organizations: number): Promise<ReconcileRow[]> {
  const ids = Array.from({ length: organizations }, (_, i) => String(10_000 + i));
  const emulator = await startSamsaraEmulator({ organizations: ids.map((id) => ({ id, name: id, vehicleCount: 0 })) });
  try {
    const store = new MemoryTokenStore();
    const plain = new TokenManager({ store, client: emulator });
    for (const id of ids) await plain.connect(id, { ...emulator.issueGrant(id), expiresAt: Date.now() + 3600_000 });
    const tokens = new TokenManager({
      store,
      client: emulator,
      webhooks: organizationWebhooks({ url: 'http://127.0.0.1:9/samsara/webhooks' }),
    });
    const rows: ReconcileRow[] = [];
    const pass = async (name: string): Promise<void> => {
      const limited = emulator.counters.rateLimited;
      const started = performance.now();
      const report = await tokens.webhooks!.reconcile({ concurrency: RECONCILE.concurrency });
      const ms = performance.now() - started;
      if (report.failed.length > 0) throw new Error(`${report.failed.length} organizations failed`);
      rows.push({
        organizations,
        pass: name,
        ms: Math.round(ms),
        'organizations/s': Math.round((organizations / ms) * 1000),
        writes: report.created + report.repaired,
        '429s': emulator.counters.rateLimited - limited,
      });
    };
    await pass('first (creates every webhook)');
    await pass('nothing to do');
    for (const id of ids.filter((_, i) => i % 10 === 0)) {
      const [webhook] = emulator.webhooksOf(id);
      await fetch(`${emulator.baseURL}/webhooks/${webhook.id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${await tokens.accessToken(id)}` },
      });
    }
    await pass('a tenth deleted');
    return rows;
  } finally {
    await emulator.stop();
  }
}

/** Every row, smaller fleets first. */
export async function reconcile(): Promise<ReconcileRow[]> {
  const rows: ReconcileRow[] = [];
  for (const organizations of RECONCILE.organizations) rows.push(...(await passes(organizations)));
  return rows;
}

if (require.main === module) runAlone(reconcile, table);
