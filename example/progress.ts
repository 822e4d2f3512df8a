import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { SAMSARA_CHANNELS, type RateLimitEvent } from 'passport-samsara';

/**
 * What the sync tells its progress: vehicles listed, organizations done. The waits (the fleet's
 * pacing and Samsara's 429s) it hears on the rate-limit channel itself.
 */
export interface SyncProgress {
  vehicles(count: number): void;
  organizationDone(): void;
  /** A line of the job's log, printed above the bar on a terminal. */
  log(line: string): void;
  /** The last word: the bar drawn once more, then left alone. */
  stop(): void;
}

/**
 * On a terminal, one bar redrawn in place (organizations done, vehicles per second, waits);
 * otherwise plain lines, one per organization done, so that a log file reads top to bottom.
 */
export function syncProgress(out: NodeJS.WriteStream, total?: number): SyncProgress {
  const started = Date.now();
  let done = 0;
  let vehicles = 0;
  let waits = 0;
  let waitedMs = 0;
  const onWait = (message: unknown): void => {
    const { outcome, durationMs } = message as RateLimitEvent;
    if (outcome === 'gave-up') return;
    waits++;
    waitedMs += durationMs;
  };
  subscribe(SAMSARA_CHANNELS.rateLimit, onWait);
  const status = (): string => {
    const seconds = Math.max(0.001, (Date.now() - started) / 1000);
    const of = total === undefined ? '' : ` of ${total}`;
    return `${done}${of} organizations, ${Math.round(vehicles / seconds)} vehicles/s, ${waits} waits (${(waitedMs / 1000).toFixed(1)} s)`;
  };
  const bar = (): string => {
    if (total === undefined || total === 0) return '';
    const width = 24;
    const filled = Math.round((width * Math.min(done, total)) / total);
    return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] `;
  };
  const tty = out.isTTY;
  const draw = (): void => void out.write(`\r\x1b[2K${bar()}${status()}`);
  const timer = tty ? setInterval(draw, 200).unref() : undefined;
  return {
    vehicles(count) {
      vehicles += count;
    },
    organizationDone() {
      done++;
      if (tty) draw();
      else out.write(`progress: ${status()}\n`);
    },
    log(line) {
      out.write(tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
      if (tty) draw();
    },
    stop() {
      clearInterval(timer);
      unsubscribe(SAMSARA_CHANNELS.rateLimit, onWait);
      if (tty) out.write(`\r\x1b[2K${bar()}${status()}\n`);
    },
  };
}
