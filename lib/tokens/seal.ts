import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ConfigurationError, SealError } from '../errors/index.js';
import { storedFieldsOf, type NewCredentials } from './credentials.js';

/**
 * One AES-256 key of a keyring. The id travels with every sealed value, so a value stays readable
 * after newer keys are added in front of its own.
 *
 * @example
 * ```ts
 * const key: SealingKey = { id: 'k20261129', secret: crypto.randomBytes(32) };
 * ```
 */
export interface SealingKey {
  /** 1 to 32 of `A-Z a-z 0-9 _ -`; unique within a keyring. */
  id: string;
  /** 32 random bytes. */
  secret: Buffer;
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HOW_TO =
  `Make one with \`node -p "require('passport-samsara').generateSealingKey()"\` and set ` +
  'SAMSARA_SEALING_KEYS to it (keys comma-separated, newest first).';

/**
 * A new keyring entry, `"<id>:<base64 of 32 random bytes>"`, to put in front of
 * `SAMSARA_SEALING_KEYS`. The default id is today's date (UTC), such as `k20261129`.
 *
 * @param id - the key's id, stored beside each sealed record so that old keys still open it.
 * @returns the entry, which holds the secret: print it once, never log it.
 *
 * @example
 * ```sh
 * node -p "require('passport-samsara').generateSealingKey()"   # k20261129:3q2+7w...
 * ```
 */
export function generateSealingKey(id = `k${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`): string {
  if (!KEY_ID.test(id)) {
    throw new ConfigurationError('A sealing key id must be 1 to 32 of A-Z a-z 0-9 _ -.');
  }
  return `${id}:${randomBytes(32).toString('base64')}`;
}

/**
 * Validates a keyring: `"<id>:<base64>,<id>:<base64>"` (newest first, as in
 * `SAMSARA_SEALING_KEYS`) or an array of keys. Throws `ConfigurationError` (never echoing a secret)
 * when there is no key, an id is malformed or repeated, or a secret is not 32 bytes.
 *
 * @example
 * ```ts
 * const keyring = parseKeyring(process.env.SAMSARA_SEALING_KEYS ?? '');
 * ```
 */
export function parseKeyring(spec: string | readonly SealingKey[]): SealingKey[] {
  const keys =
    typeof spec === 'string'
      ? spec
          .split(',')
          .map((entry) => entry.trim())
          .filter(Boolean)
          .map(parseEntry)
      : spec.map(({ id, secret }) => ({ id, secret }));
  if (keys.length === 0) {
    throw new ConfigurationError(`No sealing key: credentials are sealed before they reach Redis. ${HOW_TO}`);
  }
  const seen = new Set<string>();
  keys.forEach(({ id, secret }, index) => {
    // An id that fails the pattern may be a pasted secret, so it is named by position only.
    if (typeof id !== 'string' || !KEY_ID.test(id)) {
      throw new ConfigurationError(`Sealing key #${index + 1} has no valid id (1 to 32 of A-Z a-z 0-9 _ -). ${HOW_TO}`);
    }
    if (!Buffer.isBuffer(secret) || secret.length !== 32) {
      throw new ConfigurationError(`Sealing key "${id}" is not the base64 of 32 bytes. ${HOW_TO}`);
    }
    if (seen.has(id)) {
      throw new ConfigurationError(`Sealing key id "${id}" appears twice in the keyring; every key needs its own id.`);
    }
    seen.add(id);
  });
  return keys;
}

function parseEntry(entry: string): SealingKey {
  const colon = entry.indexOf(':');
  const text = entry.slice(colon + 1);
  return {
    id: colon < 0 ? '' : entry.slice(0, colon),
    secret: colon >= 0 && BASE64.test(text) ? Buffer.from(text, 'base64') : Buffer.alloc(0),
  };
}

/**
 * Encrypts `plaintext` with the keyring's first (newest) key: AES-256-GCM, a random 12-byte IV,
 * `aad` authenticated but not stored (the Redis store passes the key name, so a value copied to
 * another key does not open). Result: `v1.<kid>.<iv>.<ciphertext>.<tag>`, base64url parts.
 *
 * @example
 * ```ts
 * const sealed = seal(parseKeyring(process.env.SAMSARA_SEALING_KEYS!), JSON.stringify(data), 'samsara:{org:1001}');
 * ```
 */
export function seal(keyring: readonly SealingKey[], plaintext: string, aad: string): string {
  const key = keyring.at(0);
  if (!key) throw new ConfigurationError(`No sealing key. ${HOW_TO}`);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.secret, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return `v1.${key.id}.${iv.toString('base64url')}.${ciphertext.toString('base64url')}.${tag.toString('base64url')}`;
}

/**
 * Decrypts what {@link seal} produced, with whichever key of the keyring has the value's id.
 * Throws `SealError` when the format is wrong, the id is not in the keyring, or authentication
 * fails (tampered, copied from another key name, or a different secret under the same id).
 *
 * @example
 * ```ts
 * const json = open(keyring, sealed, 'samsara:{org:1001}');
 * ```
 */
export function open(keyring: readonly SealingKey[], sealed: string, aad: string): string {
  const parts = sealed.split('.');
  const [version, kid = '', ...encoded] = parts;
  const [iv, ciphertext, tag] = encoded.map(decodeCanonical);
  if (parts.length !== 5 || version !== 'v1' || !KEY_ID.test(kid) || !iv || !ciphertext || !tag) {
    throw new SealError(
      'The stored value is not sealed in the v1 format (v1.<kid>.<iv>.<ciphertext>.<tag>): it is corrupt or was written by something else.',
    );
  }
  const key = keyring.find((candidate) => candidate.id === kid);
  if (!key) {
    throw new SealError(
      `The stored value is sealed with key "${kid}", which is not in the keyring: put that key back in SAMSARA_SEALING_KEYS, after the newer ones.`,
    );
  }
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new SealError(`The stored value sealed with key "${kid}" is truncated or corrupt.`);
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.secret, iv);
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch (err) {
    throw new SealError(
      `The stored value sealed with key "${kid}" failed authentication: it was tampered with, copied from another key name, or key "${kid}" now has a different secret.`,
      { cause: err },
    );
  }
}

/** Node's base64url decoder ignores stray bits and characters; a tampered part must not decode to the original. */
function decodeCanonical(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

/** Credentials' stored fields, as JSON, sealed under `name` (a store's name for the key). */
export function sealCredentials(keyring: readonly SealingKey[], creds: NewCredentials, name: string): string {
  return seal(keyring, JSON.stringify(storedFieldsOf(creds)), name);
}

/** What {@link sealCredentials} sealed; `SealError` when it does not open, or opens to something else. */
export function openCredentials(keyring: readonly SealingKey[], sealed: string, name: string): NewCredentials {
  try {
    return JSON.parse(open(keyring, sealed, name)) as NewCredentials;
  } catch (err) {
    if (err instanceof SealError) throw err;
    throw new SealError('The stored credentials opened but are not JSON: they were sealed by something else.', {
      cause: err,
    });
  }
}
