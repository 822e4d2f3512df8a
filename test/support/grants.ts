import sinon from 'sinon';
import { TokenManager, type Credentials, type TokenStore } from 'passport-samsara';
import type { SamsaraEmulator } from 'passport-samsara/testing';

/**
 * Puts a real grant of the emulator's into a store, as a sign-in would (`TokenManager.connect`),
 * with the local expiry moved `expiresInMs` from now (negative: already expired here, so the next
 * call must refresh).
 */
export async function seedGrant(
  emulator: SamsaraEmulator,
  store: TokenStore,
  key = '1001',
  expiresInMs = -1_000,
): Promise<Credentials> {
  const grant = emulator.issueGrant(key);
  return new TokenManager({ store, client: clientOf(emulator) }).connect(key, {
    accessToken: grant.accessToken,
    refreshToken: grant.refreshToken,
    expiresAt: Date.now() + expiresInMs,
    scope: grant.scope,
  });
}

/** The client options that point the package at an emulator. */
export function clientOf(emulator: SamsaraEmulator): { clientID: string; clientSecret: string; baseURL: string } {
  return { clientID: emulator.clientID, clientSecret: emulator.clientSecret, baseURL: emulator.baseURL };
}

/** A store's reads as a manager makes them, counted: `get`, and `getLockingIfDue` on a store that has it. */
export interface Reads {
  readonly callCount: number;
  resetHistory(): void;
  restore(): void;
}

type ReadMethod = 'get' | 'getLockingIfDue';

/** The read methods `store` has. */
function readMethods(store: TokenStore): ReadMethod[] {
  return store.getLockingIfDue ? ['get', 'getLockingIfDue'] : ['get'];
}

function readsOf(spies: sinon.SinonSpy[]): Reads {
  return {
    get callCount() {
      return spies.reduce((n, spy) => n + spy.callCount, 0);
    },
    resetHistory: () => spies.forEach((spy) => spy.resetHistory()),
    restore: () => spies.forEach((spy) => spy.restore()),
  };
}

/** Counts the store's reads (see {@link Reads}). */
export function countReads(store: TokenStore): Reads {
  const methods = store as Required<Pick<TokenStore, ReadMethod>>;
  return readsOf(readMethods(store).map((name) => sinon.spy(methods, name)));
}

/** Makes the store's first `late` reads (of either kind) read at once but answer only when the test calls `open()`. */
export function gated(store: TokenStore, late: number): { open: () => void; reads: Reads } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const methods = store as Required<Pick<TokenStore, ReadMethod>>;
  let n = 0;
  const stubs = readMethods(store).map((name) => {
    const read = methods[name].bind(store) as (...args: unknown[]) => Promise<unknown>;
    return sinon.stub(methods, name).callsFake(async (...args: unknown[]) => {
      const mine = ++n;
      const answer = await read(...args);
      if (mine <= late) await gate;
      return answer as never;
    });
  });
  return { open: release, reads: readsOf(stubs) };
}
