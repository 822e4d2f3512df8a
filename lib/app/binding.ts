import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { ConfigurationError, SealError } from '../errors/index.js';
import type { OAuthClient } from '../oauth-client.js';
import { open, parseKeyring, seal, type SealingKey } from '../tokens/seal.js';
import type { TokenManager } from '../tokens/manager.js';
import { talksToEmulator, type SamsaraAppOptions } from './options.js';
import type { AppUser } from './account.js';

/**
 * The keyring that seals the session's organization binding: the `sealingKeys` option, else
 * `SAMSARA_SEALING_KEYS` (the token store's keyring will do). On the local emulator only, a random
 * key per process; anything else without a keyring is a `ConfigurationError`.
 */
export function keyringOf(options: SamsaraAppOptions, tokens: TokenManager): SealingKey[] {
  const spec = options.sealingKeys ?? process.env.SAMSARA_SEALING_KEYS;
  if (spec !== undefined && spec !== '') return parseKeyring(spec);
  const clients: OAuthClient[] = [tokens.client, ...tokens.clients.values()];
  if (clients.every(talksToEmulator)) return [{ id: 'emulator', secret: randomBytes(32) }];
  throw new ConfigurationError(
    'The Samsara app seals the organization kept in each session with the sealingKeys option (or SAMSARA_SEALING_KEYS): make a key with `node -p "require(\'passport-samsara\').generateSealingKey()"`. Only the local emulator runs without one.',
  );
}

/**
 * passport's serializer and deserializer for the app's own sessions. The session holds the user
 * sealed (AES-256-GCM, `lib/tokens/seal.ts`) and bound to the mount's cookie name and to the
 * session's id: whoever can write the session store cannot switch a session to another
 * organization, nor move one session's binding into another, nor carry it to another mount.
 * passport serializes after it regenerates the session at login, so the id bound is the new one.
 * A binding that does not open (tampered, moved, a key taken out of the ring, a session from before
 * sealing) reads as nobody signed in.
 */
export function sessionBinding(
  keyring: readonly SealingKey[],
  cookieName: () => string,
): {
  serialize: (req: Request, user: Express.User, done: (err: unknown, sealed?: string) => void) => void;
  deserialize: (req: Request, sealed: unknown, done: (err: unknown, user?: Express.User | false) => void) => void;
} {
  const aad = (req: Request): string => `passport-samsara/app session\n${cookieName()}\n${req.sessionID}`;
  return {
    serialize: (req, user, done) => {
      done(null, seal(keyring, JSON.stringify(user), aad(req)));
    },
    deserialize: (req, sealed, done) => {
      if (typeof sealed !== 'string') {
        done(null, false);
        return;
      }
      try {
        done(null, userOf(open(keyring, sealed, aad(req))));
      } catch (err) {
        if (err instanceof SealError) done(null, false);
        else done(err);
      }
    },
  };
}

function userOf(json: string): AppUser | false {
  const user = JSON.parse(json) as Partial<AppUser> | null;
  return typeof user?.orgId === 'string' && typeof user.orgName === 'string' ? (user as AppUser) : false;
}
