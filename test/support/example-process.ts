import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** An example server running in a process of its own, as `npm start` runs it. */
export interface ExampleProcess {
  /** http://127.0.0.1:PORT, from the line the server prints once it listens. */
  url: string;
  /** Everything it printed, for a failing test's message and for checks that nothing secret was. */
  output(): string;
  stop(): Promise<void>;
}

// A mocha run that dies or forgets stop() must not leave servers behind.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Runs `node <script>` (default: the built example server) with `env` added, on 127.0.0.1 and a
 * free port, and resolves once it prints its URL (at most `timeout` ms).
 */
export function startExample(
  env: Record<string, string>,
  options: { script?: string; cwd?: string; timeout?: number } = {},
): Promise<ExampleProcess> {
  const script = options.script ?? resolve(__dirname, '..', '..', 'example', 'server.js');
  const child = spawn(process.execPath, [script], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  void exited.then(() => running.delete(child));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolvePromise, reject) => {
    const deadline = setTimeout(() => {
      void stop();
      reject(new Error(`${script} printed no URL within ${options.timeout ?? 15_000} ms:\n${output}`));
    }, options.timeout ?? 15_000);
    const look = (): void => {
      const url = / on (http:\/\/127\.0\.0\.1:\d+)\//.exec(output)?.[1];
      if (!url) return;
      clearTimeout(deadline);
      child.stdout.off('data', look);
      resolvePromise({ url, output: () => output, stop });
    };
    child.stdout.on('data', look);
    void exited.then(() => {
      clearTimeout(deadline);
      reject(new Error(`${script} exited before it listened:\n${output}`));
    });
  });
}
