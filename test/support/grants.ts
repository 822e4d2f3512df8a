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
