import type { Settings } from './options.js';
import { SWEEP_FROM, type EmulatorState } from './state.js';

// The emulator's memory, bounded. What a client can no longer use (expired codes, expired access
// tokens, rotated-out refresh tokens past their grace, the tokens of revoked grants, rate windows
// gone quiet) is kept while the maps are small, so that a test can still ask about it
// (grantStatus, grantId), and swept once they grow past SWEEP_FROM entries; a sweep doubles the
// next threshold, so its cost stays amortized O(1) a request. Past CAP a map loses its oldest
// entries, live ones included: an emulator bound, far above what a test or the benchmark holds.

/** The most entries one map keeps. */
export const CAP = 100_000;

/**
 * How many entries the emulator holds, by map: what its memory grows with.
 *
 * @example
 * ```ts
 * expect(samsara.stored().codes).to.be.at.most(1_000);
 * ```
 */
export interface EmulatorStorage {
  codes: number;
  accessTokens: number;
  refreshTokens: number;
  grants: number;
  /** Rate-limit windows (one per access token, organization and endpoint of one, recently used). */
  rateWindows: number;
}

export function storageOf(state: EmulatorState): EmulatorStorage {
  return {
    codes: state.codes.size,
    accessTokens: state.accessTokens.size,
    refreshTokens: state.refreshTokens.size,
    grants: state.grants.size,
    rateWindows: state.requestTimes.size,
  };
}

function total(state: EmulatorState): number {
  const { codes, accessTokens, refreshTokens, grants, rateWindows } = storageOf(state);
  return codes + accessTokens + refreshTokens + grants + rateWindows;
}

/** Sweeps when the maps have grown past the threshold; call it after each request. */
export function pruneState(state: EmulatorState, settings: Settings): void {
  if (total(state) < state.pruning.next) return;
  const now = state.clock();
  for (const [code, record] of state.codes) if (now >= record.expiresAt) state.codes.delete(code);
  for (const [token, record] of state.accessTokens) {
    if (now >= record.expiresAt || record.grant.revoked) state.accessTokens.delete(token);
  }
  for (const [token, record] of state.refreshTokens) {
    const spent = record.rotatedAt !== undefined && now - record.rotatedAt >= settings.refreshTokenReuseGrace;
    if (spent || record.grant.revoked) state.refreshTokens.delete(token);
  }
  // A grant nothing refers to any more can never be used or asked about again.
  const held = new Set([...state.refreshTokens.values(), ...state.accessTokens.values()].map((r) => r.grant));
  for (const record of state.codes.values()) if (record.grant) held.add(record.grant);
  for (const grant of state.grants) if (!held.has(grant)) state.grants.delete(grant);
  // The longest window is a minute (webhook writes).
  for (const [key, times] of state.requestTimes) {
    if ((times.at(-1) ?? -Infinity) <= now - 60_000) state.requestTimes.delete(key);
  }
  for (const map of [state.codes, state.accessTokens, state.refreshTokens, state.requestTimes]) cap(map);
  state.pruning.next = Math.max(SWEEP_FROM, 2 * total(state));
}

function cap(map: Map<string, unknown>): void {
  // A Map iterates in insertion order: the first keys are the oldest.
  for (const key of map.keys()) {
    if (map.size <= CAP) return;
    map.delete(key);
  }
}
