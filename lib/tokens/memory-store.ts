import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from './clock.js';
import { storedFieldsOf, type Credentials, type NewCredentials } from './credentials.js';
import { MemoryClaims } from './memory-claims.js';
import { waitForChangeOf } from './change-wait.js';
import type {
  ClaimOutcome,
  LockHandle,
  OrganizationStatus,
  RevokedGrant,
  StoreHealth,
  StoredWebhook,
  TokenStore,
} from './store.js';

interface Slot {
  creds: Credentials | null;
  /** When `creds` were written (the clock's ms). */
  writtenAt: number;
  version: number;
  /** The version a conditional remove replaced: a late update expecting it may still write. */
  revivable: number | null;
  retired: NewCredentials[];
  lock: { owner: object; expiresAt: number } | null;
}

/**
 * The in-process token store: enough for one process (and the default), useless for a fleet.
 *
 * @example
 * ```ts
 * const tokens = new TokenManager({ store: new MemoryTokenStore() });
 * ```
 */
export class MemoryTokenStore implements TokenStore {
  readonly #slots = new Map<string, Slot>();
  readonly #changes = new EventEmitter().setMaxListeners(0);
  readonly #clock: Clock;
  readonly #claims: MemoryClaims;
  readonly #webhooks = new Map<string, StoredWebhook>();

  /** `clock`: where lock expiries, claims and waits read the time. Default: the system clock. */
  constructor(options: { clock?: Clock | undefined } = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#claims = new MemoryClaims(this.#clock);
  }

  async get(key: string): Promise<Credentials | null> {
    const creds = this.#slots.get(key)?.creds;
    return creds ? { ...creds } : null;
  }

  async retired(key: string): Promise<NewCredentials[]> {
    return (this.#slots.get(key)?.retired ?? []).map((grant) => ({ ...grant }));
  }

  async replace(key: string, creds: NewCredentials, maxRetired: number): Promise<Credentials> {
    const slot = this.#slot(key);
    // The grant already current may have been rotated since this sign-in: its tokens stay.
    if (slot.creds?.grantId === creds.grantId) return { ...slot.creds };
    if (slot.creds) pushRetired(slot, storedFieldsOf(slot.creds), maxRetired);
    return this.#write(key, creds);
  }

  async update(key: string, creds: NewCredentials, expectedVersion: number): Promise<Credentials | null> {
    const slot = this.#slots.get(key);
    // Written again (an unsaved retry): the very credentials already current.
    if (slot?.creds && sameCredentials(slot.creds, creds)) return { ...slot.creds };
    const current = slot?.creds ? slot.version : slot?.revivable;
    if (current !== expectedVersion) return null;
    return this.#write(key, creds);
  }

  async retire(key: string, creds: NewCredentials, maxRetired: number, onlyIfKept: boolean): Promise<boolean> {
    const slot = this.#slot(key);
    if (slot.creds?.grantId === creds.grantId) return true;
    if (onlyIfKept && !slot.creds && slot.retired.length === 0) return false;
    pushRetired(slot, storedFieldsOf(creds), maxRetired);
    return true;
  }

  async forget(key: string, grants: readonly RevokedGrant[]): Promise<void> {
    const slot = this.#slots.get(key);
    if (!slot) return;
    const revoked = (held: NewCredentials): boolean =>
      grants.some((grant) => grant.grantId === held.grantId && grant.refreshToken === held.refreshToken);
    slot.retired = slot.retired.filter((grant) => !revoked(grant));
    if (slot.creds && revoked(slot.creds)) {
      slot.creds = null;
      this.#bump(key);
    }
    if (!slot.creds) slot.revivable = null;
  }

  async remove(key: string, expectedVersion: number): Promise<boolean> {
    const slot = this.#slots.get(key);
    if (!slot?.creds || slot.version !== expectedVersion) return false;
    slot.creds = null;
    slot.revivable = expectedVersion;
    this.#bump(key);
    return true;
  }

  async lock(key: string, ttlMs: number): Promise<LockHandle | null> {
    const slot = this.#slot(key);
    if (slot.lock && slot.lock.expiresAt > this.#clock.now()) return null;
    const owner = {};
    slot.lock = { owner, expiresAt: this.#clock.now() + ttlMs };
    return {
      current: slot.creds ? { ...slot.creds } : null,
      extend: async (ms: number) => {
        if (slot.lock && slot.lock.owner !== owner && slot.lock.expiresAt > this.#clock.now()) return false;
        slot.lock = { owner, expiresAt: this.#clock.now() + ms };
        return true;
      },
      release: async () => {
        if (slot.lock?.owner !== owner) return;
        slot.lock = null;
        this.#changes.emit(key);
      },
    };
  }

  /** Every change to the key (a write, a removal, a release) reads it again; the lock's expiry too. */
  waitForChange(key: string, sinceVersion: number, timeoutMs: number): Promise<undefined> {
    return waitForChangeOf(
      {
        clock: this.#clock,
        subscription: (recheck) => {
          this.#changes.on(key, recheck);
          return { ready: Promise.resolve(), unlisten: () => this.#changes.off(key, recheck) };
        },
        state: async () => {
          const slot = this.#slots.get(key);
          return { version: slot?.version ?? 0, lockMs: slot?.lock ? slot.lock.expiresAt - this.#clock.now() : 0 };
        },
        // Every change here emits: only the lock's expiry and the timeout need a timer.
        pollInterval: Infinity,
      },
      sinceVersion,
      timeoutMs,
    ).then(() => undefined);
  }

  async *list(): AsyncIterable<OrganizationStatus> {
    // The map's own iterator: entries added meanwhile may appear, none is copied up front.
    for (const [orgId, slot] of this.#slots) {
      const creds = slot.creds;
      if (!creds) continue;
      yield {
        orgId,
        grantId: creds.grantId,
        expiresAt: creds.expiresAt,
        version: creds.version,
        writtenAt: slot.writtenAt,
        ...(creds.region !== undefined && { region: creds.region }),
        ...(creds.clientID !== undefined && { clientID: creds.clientID }),
      };
    }
  }

  /** Always ok: the memory is this process's own, and is lost only with it. */
  async health(): Promise<StoreHealth> {
    return { status: 'ok', reason: '' };
  }

  async claim(name: string, ttlMs: number): Promise<ClaimOutcome> {
    return this.#claims.claim(name, ttlMs);
  }

  async webhook(key: string): Promise<StoredWebhook | null> {
    const webhook = this.#webhooks.get(key);
    return webhook ? { ...webhook } : null;
  }

  async saveWebhook(key: string, next: StoredWebhook | null, expectedId: string | null): Promise<boolean> {
    if ((this.#webhooks.get(key)?.id ?? null) !== expectedId) return false;
    if (next) this.#webhooks.set(key, { id: next.id, url: next.url, secretKey: next.secretKey });
    else this.#webhooks.delete(key);
    return true;
  }

  #slot(key: string): Slot {
    let slot = this.#slots.get(key);
    if (!slot) {
      // Versions start at the clock, as in the Redis store: they never repeat across a key's lifetimes.
      slot = { creds: null, writtenAt: 0, version: this.#clock.now(), revivable: null, retired: [], lock: null };
      this.#slots.set(key, slot);
    }
    return slot;
  }

  #write(key: string, creds: NewCredentials): Credentials {
    const slot = this.#slot(key);
    slot.creds = { ...storedFieldsOf(creds), version: slot.version + 1 };
    slot.writtenAt = this.#clock.now();
    slot.revivable = null;
    this.#bump(key, slot.creds.version);
    return { ...slot.creds };
  }

  #bump(key: string, version = this.#slot(key).version + 1): void {
    this.#slot(key).version = version;
    this.#changes.emit(key);
  }
}

/** Appends a retired grant, or updates its entry, keeping at most `max` (the newest). */
function pushRetired(slot: Slot, grant: NewCredentials, max: number): void {
  const at = slot.retired.findIndex((retired) => retired.grantId === grant.grantId);
  if (at >= 0) {
    slot.retired[at] = grant;
    return;
  }
  slot.retired.push(grant);
  if (slot.retired.length > max) slot.retired.splice(0, slot.retired.length - max);
}

/** Whether `stored` are exactly `creds` (whatever their version): the same write made again. */
function sameCredentials(stored: NewCredentials, creds: NewCredentials): boolean {
  return JSON.stringify(storedFieldsOf(stored)) === JSON.stringify(storedFieldsOf(creds));
}
