import { publish, type LockWaitEvent, type RefreshEvent } from '../events.js';
import type { Credentials } from './credentials.js';

/** One refresh flight, as its events describe it: which organization, which region, since when. */
export interface Flight {
  readonly key: string;
  readonly region: string | undefined;
  readonly startedAt: number;
}

export function flightOf(key: string, creds: Credentials): Flight {
  return { key, region: creds.region, startedAt: performance.now() };
}

/** Publishes a refresh event of `flight`, and hands back `result`, so that a `return` can say it. */
export function said<T>(flight: Flight, outcome: RefreshEvent['outcome'], result?: T, code?: string): T {
  publish('refresh', () => ({
    orgId: flight.key,
    outcome,
    durationMs: performance.now() - flight.startedAt,
    ...(flight.region !== undefined && { region: flight.region }),
    ...(code !== undefined && { code }),
  }));
  return result as T;
}

/** Publishes the end of a wait for another process's refresh, which began at `since`. */
export function waited(flight: Flight, outcome: LockWaitEvent['outcome'], since: number): void {
  publish('lockWait', () => ({
    orgId: flight.key,
    outcome,
    durationMs: performance.now() - since,
    ...(flight.region !== undefined && { region: flight.region }),
  }));
}
