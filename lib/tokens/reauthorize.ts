import { ReauthorizationRequiredError } from '../errors/index.js';
import { publish, type ReauthorizeEvent } from '../events.js';
import type { TokenStore } from './store.js';

// Where a ReauthorizationRequiredError came from, kept beside it (not on it: an error's fields are
// public API) until the call that sees it first publishes the event. A refresh shared by many
// callers throws one error to all of them; the event is published once.
const outcomes = new WeakMap<Error, ReauthorizeEvent['outcome']>();

/** A `ReauthorizationRequiredError` for `key`, remembered with what found it. */
export function reauthorization(
  key: string,
  outcome: ReauthorizeEvent['outcome'],
  reason: string,
  cause?: unknown,
): ReauthorizationRequiredError {
  const err = new ReauthorizationRequiredError(reason, { key, cause });
  outcomes.set(err, outcome);
  return err;
}

/** Publishes the reauthorization event of `err`, once, if it is one of {@link reauthorization}'s. */
export function reportReauthorization(err: unknown, startedAt: number, region: string | undefined): void {
  if (!(err instanceof ReauthorizationRequiredError)) return;
  const outcome = outcomes.get(err);
  if (outcome === undefined) return;
  outcomes.delete(err);
  publish('reauthorize', () => ({
    orgId: err.key,
    outcome,
    durationMs: performance.now() - startedAt,
    code: err.code,
    ...(region !== undefined && { region }),
  }));
}

/**
 * The error for a key the store holds no credentials for: `lost-data` when the store says they
 * were lost with its memory, else `no-credentials`. Asked only on a miss, so the hot path pays
 * nothing; a store that cannot answer now (it failed meanwhile) counts as not lost.
 */
export async function noCredentials(store: TokenStore, key: string): Promise<ReauthorizationRequiredError> {
  const lost = (await store.lost?.(key).catch(() => false)) ?? false;
  return lost
    ? reauthorization(
        key,
        'lost-data',
        'the token store lost its data (a Redis restart without persistence, FLUSHALL, a failover to an empty replica), and this organization with it',
      )
    : reauthorization(key, 'no-credentials', 'no Samsara credentials are stored for it');
}
