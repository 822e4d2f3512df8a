/**
 * The heap a waiting caller holds: 1,000 `accessToken()` calls in one process for an organization
 * whose token has expired while a second store (its own connection to the same Redis, as another
 * process would hold) holds its refresh lock, so every call waits. The heap is read after a full collection before the calls and
 * again once they all wait, in a child process whose young generation (64 MB) holds them without a
 * collection in between. Ten rounds after two not counted; the per-caller figure is their median.
 */
import { fork } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { RedisTokenStore, TokenManager, generateSealingKey } from 'passport-samsara';
import { startSamsaraEmulator } from 'passport-samsara/testing';
import { percentile, runAlone, table } from './stats.js';

export const WAITING_HEAP = { callers: 1_000, rounds: 10, warmUpRounds: 2 };

/** Bytes of heap per waiting caller, per counted round. */
export interface WaitingHeapResult {
  perCaller: number[];
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** The measurement itself, in this process (the child). */
async function measure(): Promise<WaitingHeapResult> {
  const emulator = await startSamsaraEmulator();
  const keys = generateSealingKey('bench');
  const prefix = `bench-heap-${String(process.pid)}:`;
  const clients = [new Redis({ host: '127.0.0.1', port: 6379 }), new Redis({ host: '127.0.0.1', port: 6379 })];
  const [store, holder] = clients.map((client) => new RedisTokenStore({ client, keys, prefix }));
  const client = { clientID: emulator.clientID, clientSecret: emulator.clientSecret, baseURL: emulator.baseURL };
  const manager = new TokenManager({ store, client });
  const seeder = new TokenManager({ store: holder, client });
  const perCaller: number[] = [];
  try {
    for (let round = 0; round < WAITING_HEAP.warmUpRounds + WAITING_HEAP.rounds; round++) {
      const expired = emulator.issueGrant('1001');
      await seeder.connect('1001', {
        accessToken: expired.accessToken,
        refreshToken: expired.refreshToken,
        expiresAt: Date.now() - 1_000,
      });
      const lock = await holder.lock('1001', 5_000);
      if (!lock) throw new Error('the holder did not get the lock');
      await sleep(20);
      gc();
      const before = process.memoryUsage().heapUsed;
      const calls = Array.from({ length: WAITING_HEAP.callers }, () => manager.accessToken('1001'));
      // Long enough for every caller to have read, found the lock held, and begun waiting.
      await sleep(30);
      const waiting = process.memoryUsage().heapUsed;
      if (round >= WAITING_HEAP.warmUpRounds) perCaller.push((waiting - before) / WAITING_HEAP.callers);
      // The holder's refresh lands: every caller is woken with it.
      const current = await holder.get('1001');
      if (!current) throw new Error('the grant is gone');
      const fresh = emulator.issueGrant('1001');
      const rotated = {
        accessToken: fresh.accessToken,
        refreshToken: fresh.refreshToken,
        expiresAt: Date.now() + 3_600_000,
      };
      await holder.update('1001', { ...current, ...rotated }, current.version);
      await Promise.all(calls);
      await lock.release();
      await manager.idle();
    }
  } finally {
    await Promise.all(clients.map((redis) => redis.del(`${prefix}{org:1001}`, `${prefix}{org:1001}:lock`)));
    manager.close();
    seeder.close();
    clients.forEach((redis) => redis.disconnect());
    await emulator.stop();
  }
  return { perCaller };
}

/** Runs the measurement in a child process with a young generation large enough for the callers. */
export function waitingHeap(): Promise<WaitingHeapResult> {
  const child = fork(__filename, ['child'], { execArgv: ['--expose-gc', '--max-semi-space-size=64'] });
  return new Promise((resolve, reject) => {
    child.once('message', (result: WaitingHeapResult) => resolve(result));
    child.once('exit', (code) => reject(new Error(`the heap probe exited with ${String(code)}`)));
  });
}

export function waitingHeapTable(r: WaitingHeapResult): string {
  const sorted = [...r.perCaller].sort((a, b) => a - b);
  const bytes = (v: number): string => `${v.toFixed(0)} B`;
  return [
    `### Heap per waiting caller: ${String(WAITING_HEAP.callers)} calls for one expired token, its lock held by another process`,
    '',
    table([
      {
        rounds: sorted.length,
        median: bytes(percentile(sorted, 50)),
        min: bytes(sorted[0]),
        max: bytes(sorted[sorted.length - 1]),
      },
    ]),
  ].join('\n');
}

if (require.main === module) {
  if (process.argv[2] === 'child') {
    void measure().then(
      (result) => process.send?.(result, () => process.exit(0)),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  } else {
    runAlone(waitingHeap, waitingHeapTable);
  }
}
