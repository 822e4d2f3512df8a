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

/** Makes the store's first `late` reads read at once but answer only when the test calls `open()`. */
export function gated(store: TokenStore, late: number): { open: () => void; reads: sinon.SinonStub } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const get = store.get.bind(store);
  const reads = sinon.stub(store, 'get').callsFake(async (key: string) => {
    const n = reads.callCount;
    const creds = await get(key);
    if (n <= late) await gate;
    return creds;
  });
  return { open: release, reads };
}
