import { storedFieldsOf, type NewCredentials } from './credentials.js';
import { openCredentials, sealCredentials, type SealingKey } from './seal.js';

/** Names (keys) whose last sealed value a sealer remembers: about a kilobyte each. */
const REMEMBERED = 1_000;

/**
 * Seals and opens a store's credentials, remembering per name the last sealed value it made or
 * opened: the same value opened again (the lock's read of what the hot path read a moment before,
 * the read after a write of our own) costs a string comparison, not a decryption. A sealed value
 * opens to one plaintext only, so remembering cannot serve anything the store does not hold; a
 * value that differs in one character is opened, and authenticated, afresh.
 */
export class CredentialSealer {
  readonly #last = new Map<string, { sealed: string; creds: NewCredentials }>();

  constructor(private readonly keyring: readonly SealingKey[]) {}

  seal(creds: NewCredentials, name: string): string {
    const sealed = sealCredentials(this.keyring, creds, name);
    this.#remember(name, sealed, storedFieldsOf(creds));
    return sealed;
  }

  /** A copy every time: callers may spread or change what they are given. */
  open(sealed: string, name: string): NewCredentials {
    const last = this.#last.get(name);
    if (last?.sealed === sealed) return { ...last.creds };
    const creds = openCredentials(this.keyring, sealed, name);
    this.#remember(name, sealed, creds);
    return { ...creds };
  }

  #remember(name: string, sealed: string, creds: NewCredentials): void {
    // Re-inserted, so the oldest name is the first to go.
    this.#last.delete(name);
    this.#last.set(name, { sealed, creds });
    if (this.#last.size > REMEMBERED) this.#last.delete(this.#last.keys().next().value as string);
  }
}
