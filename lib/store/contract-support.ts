import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NewCredentials } from '../tokens/credentials.js';
import type { TokenStore } from '../tokens/store.js';

/**
 * The test framework the contract registers its tests with: mocha's globals, `node:test`'s
 * exports, or anything with the same four functions (Jest and Vitest name `before`/`after`
 * `beforeAll`/`afterAll`: pass those).
 *
 * @example
 * ```ts
 * import { after, before, describe, it } from 'node:test';
 * const framework: ContractFramework = { describe, it, before, after };
 * ```
 */
export interface ContractFramework {
  describe: (name: string, body: () => void) => unknown;
  it: (name: string, body: () => Promise<void>) => unknown;
  before: (body: () => Promise<void>) => unknown;
  after: (body: () => Promise<void>) => unknown;
}

/**
 * The time a store runs on, as the contract sees it. {@link realTime} for a store that expires
 * and delivers on its own clock (a database, Redis); a fake clock's for an in-process store that
 * takes one, so its waits are checked to the millisecond and cost nothing.
 *
 * @example
 * ```ts
 * const time: ContractTime = { ...realTime, late: 2_000 }; // a slow, far-away database
 * ```
 */
export interface ContractTime {
  now(): number;
  /** Lets `ms` pass. */
  pass(ms: number): Promise<void>;
  /** Lets a ttl of `ms` run out: exactly `ms` on a fake clock, a little more on a real one. */
  outlive(ms: number): Promise<void>;
  /** Starts timing a wait; `elapsed()` is how long it took to settle, from now. */
  watch(wait: Promise<unknown>): { elapsed(): Promise<number> };
  /** How much earlier or later than its mark a wait may end (0 and 0 on a fake clock). */
  early: number;
  late: number;
}

/**
 * Real time, with margins for a loaded machine: a wait may end 20 ms early or 700 ms late.
 *
 * @example
 * ```ts
 * runTokenStoreContract('MyStore', async () => ({ stores: [a, b], time: realTime }), framework);
 * ```
 */
export const realTime: ContractTime = {
  now: () => Date.now(),
  pass: (ms) => sleep(ms),
  // A store expires a key on the first access past its ttl; the margin covers timer granularity.
  outlive: (ms) => sleep(ms + 10),
  watch(wait) {
    const started = Date.now();
    const ended = wait.then(() => Date.now());
    ended.catch(() => undefined); // the test sees a failure when it asks for the time
    return { elapsed: async () => (await ended) - started };
  },
  early: 20,
  late: 700,
};

/**
 * What a contract factory returns: two handles on one backend, as two processes of a fleet would
 * hold (the same object twice for an in-process store), the time they run on, and the teardown.
 *
 * @example
 * ```ts
 * const backend: ContractBackend = { stores: [storeA, storeB], teardown: () => db.end() };
 * ```
 */
export interface ContractBackend {
  stores: [TokenStore, TokenStore];
  /** Default: {@link realTime}. */
  time?: ContractTime;
  teardown?(): Promise<void>;
}

/** What the sections read once the backend is up (set by the runner's `before`). */
export interface ContractScope {
  store: TokenStore;
  other: TokenStore;
  time: ContractTime;
}

// Keys of this run: another run against the same database never meets them.
const run = randomBytes(4).toString('hex');
let serial = 0;
export const freshKey = (): string => `org-${run}-${++serial}`;
/** The tokens of grant `n`, at rotation `turn` (a refresh rotates the tokens, not the grant). */
export const grant = (n: number, turn = 0): NewCredentials => ({
  accessToken: `access-${n}-${turn}`,
  refreshToken: `refresh-${n}-${turn}`,
  expiresAt: 1_900_000_000_000 + n,
  scope: 'admin:read',
  grantId: `g${n}`,
});
export const MAX = 3;
export const ids = (grants: NewCredentials[]): string[] => grants.map((g) => g.grantId);
/** What a Disconnect revoked: grant `n`'s tokens at rotation `turn`. */
export const revoked = (n: number, turn = 0): { grantId: string; refreshToken: string } => ({
  grantId: `g${n}`,
  refreshToken: `refresh-${n}-${turn}`,
});

/** Asserts that `actual` holds every property of `expected`, deeply equal. */
export function includes(actual: unknown, expected: object, message?: string): void {
  assert.ok(actual !== null && typeof actual === 'object', message ?? `expected an object, got ${String(actual)}`);
  const picked = Object.fromEntries(
    Object.keys(expected).map((name) => [name, (actual as Record<string, unknown>)[name]]),
  );
  assert.deepEqual(picked, { ...expected }, message);
}

/** Asserts that `actual` has no property `name`. */
export function lacks(actual: unknown, name: string, message?: string): void {
  assert.ok(actual !== null && typeof actual === 'object' && !(name in actual), message ?? `unexpected ${name}`);
}

/** Asserts that `low <= actual <= high`. */
export function within(actual: number, low: number, high: number, message?: string): void {
  assert.ok(actual >= low && actual <= high, message ?? `expected ${actual} within [${low}, ${high}]`);
}
