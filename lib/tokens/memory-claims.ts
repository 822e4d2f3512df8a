import type { Clock } from './clock.js';
import type { ClaimOutcome } from './store.js';

interface Entry {
  /** Whose claim it is: settling compares it. */
  owner: object;
  done: boolean;
  expiresAt: number;
}

/**
 * The claims of {@link MemoryTokenStore} (`TokenStore.claim`): set-if-absent with a ttl, in one
 * process. Expired entries are swept as claims come in, so memory holds at most the names
 * claimed within the longest ttl.
 */
export class MemoryClaims {
  // Kept in the order of their last write (a write deletes, then sets): the oldest come first,
  // so a sweep stops at the first entry still alive.
  readonly #entries = new Map<string, Entry>();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  claim(name: string, ttlMs: number): ClaimOutcome {
    const now = this.#clock.now();
    this.#sweep(now);
    const held = this.#entries.get(name);
    if (held && held.expiresAt > now) return { claim: null, done: held.done };
    const owner = {};
    this.#write(name, { owner, done: false, expiresAt: now + ttlMs });
    return {
      claim: {
        complete: async (ttl) => {
          if (this.#pending(name, owner)) this.#write(name, { owner, done: true, expiresAt: this.#clock.now() + ttl });
        },
        release: async () => {
          if (this.#pending(name, owner)) this.#entries.delete(name);
        },
      },
    };
  }

  /** Whether `owner`'s claim on `name` is still pending: settled, expired or taken over, it is not theirs to settle. */
  #pending(name: string, owner: object): boolean {
    const entry = this.#entries.get(name);
    return entry?.owner === owner && !entry.done && entry.expiresAt > this.#clock.now();
  }

  #write(name: string, entry: Entry): void {
    this.#entries.delete(name);
    this.#entries.set(name, entry);
  }

  #sweep(now: number): void {
    for (const [name, entry] of this.#entries) {
      if (entry.expiresAt > now) return;
      this.#entries.delete(name);
    }
  }
}
