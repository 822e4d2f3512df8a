import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Outcome, WorkerConfig, WorkerMessage } from './fleet-worker.js';

/** A forked worker process running a TokenManager (see fleet-worker.ts). */
export interface FleetWorker {
  readonly child: ChildProcess;
  /** Asks for `n` concurrent access tokens for `key`; resolves with each outcome. */
  burst(key: string, n: number): Promise<Outcome[]>;
  /** Resolves when the worker stops before a compare-and-set write (`pauseBeforeUpdate`). */
  paused(): Promise<void>;
  resume(): void;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export async function startWorker(config: WorkerConfig): Promise<FleetWorker> {
  const child = fork(join(__dirname, 'fleet-worker.js'), [], {
    env: { ...process.env, FLEET_WORKER_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
    child.on('message', (m: WorkerMessage) => {
      if ('ready' in m) resolve();
    });
  });
  let nextId = 0;
  return {
    child,
    burst(key, n) {
      const id = ++nextId;
      return new Promise((resolve, reject) => {
        const onExit = (): void => reject(new Error('worker exited during a burst'));
        child.once('exit', onExit);
        const onMessage = (m: WorkerMessage): void => {
          if ('id' in m && m.id === id) {
            child.off('message', onMessage);
            child.off('exit', onExit);
            resolve(m.outcomes);
          }
        };
        child.on('message', onMessage);
        child.send({ id, cmd: 'burst', key, n });
      });
    },
    paused() {
      return new Promise((resolve) => {
        const onMessage = (m: WorkerMessage): void => {
          if ('event' in m && m.event === 'paused') {
            child.off('message', onMessage);
            resolve();
          }
        };
        child.on('message', onMessage);
      });
    },
    resume() {
      child.send({ cmd: 'resume' });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}
