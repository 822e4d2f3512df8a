import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigurationError } from './errors/index.js';
import { numberOption } from './number-option.js';
import { cutLifetime, isRestored, restoreLifetime, type LifetimeSlot } from './session-lifetime.js';

/**
 * Options of {@link SessionStateStore}.
 *
 * @example
 * ```ts
 * const options: SessionStateStoreOptions = { key: 'oauth2:samsara', max: 3, maxAge: 5 * 60_000 };
 * const stateStore = new SessionStateStore(options);
 * ```
 */
export interface SessionStateStoreOptions {
  /** The session property the pending sign-ins live under. Default `'oauth2:samsara'`, the strategy's `sessionKey`. */
  key?: string;
  /**
   * How many sign-ins one session may have pending; starting one more drops the oldest. A whole
   * number from 1 to 100. Default 5.
   */
  max?: number;
  /**
   * How long a pending sign-in stays good, in milliseconds: from 1 second to 24 hours (a value
   * below a second is most likely seconds given as milliseconds). Default 10 minutes.
   */
  maxAge?: number;
  /** The clock, in milliseconds since the epoch. Default `Date.now()`, read at each call. */
  now?: () => number;
  /**
   * Cut the lifetime of a session that holds nothing but pending sign-ins to theirs (`maxAge`),
   * so that anonymous Connect clicks cannot fill the session store. A successful sign-in must
   * then give the session its lifetime back ({@link SessionStateStore.signedIn}), which
   * `SamsaraStrategy` does. Default: true for the store a `SamsaraStrategy` uses, false for one
   * used by another strategy (which would not put the lifetime back).
   */
  boundSessions?: boolean;
}

/** What passport-oauth2 hands a state store: a request that should carry a session. */
interface SessionRequest {
  session?: unknown;
}

/** Called with the handle that goes to the authorize URL as `state`. */
type StoreCallback = (err: Error | null, handle?: string) => void;

/**
 * passport-oauth2's verify contract: `ok` is the PKCE code verifier when there is one (it sends it
 * to the token endpoint), `true` otherwise; after it, the app's state, or on failure `{ message }`.
 */
type VerifyCallback = (err: Error | null, ok?: string | boolean, stateOrInfo?: unknown) => void;

/** What the store keeps under its session key. */
interface Slot extends LifetimeSlot {
  pending: PendingSignIn[];
}

/** One sign-in between the redirect to authorize and the callback, as kept in the session. */
interface PendingSignIn {
  /** sha256 of the handle: whoever reads the session store still cannot answer a callback. */
  hash: string;
  expiresAt: number;
  verifier?: string;
  state?: unknown;
}

const HANDLE_BYTES = 32;
const HASH_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const NO_SESSION =
  'OAuth 2.0 authentication requires session support when using state. Did you forget to use express-session middleware?';
const UNABLE = 'Unable to verify authorization request state.';
const INVALID = 'Invalid authorization request state.';
const EXPIRED = 'Authorization request state expired: the sign-in took too long. Sign in again.';

/**
 * passport-oauth2's state store, with room for several sign-ins per session. passport-oauth2's own
 * session stores keep one `state`, so a second "Connect" (another tab, the back button, a Direct
 * Install started from Samsara meanwhile) makes the first callback fail. Here each sign-in has its
 * own random handle (256 bits), its own PKCE verifier and its own app state; at most `max` are
 * pending, each for `maxAge`, and each handle works once. The session keeps only a hash of it.
 *
 * passport logs in by regenerating the session, which drops whatever it held, the other pending
 * sign-ins included: log in with `keepSessionInfo: true` so they survive the first one to finish.
 *
 * A session that holds nothing but pending sign-ins (an anonymous visitor's Connect, or a flood of
 * them) lives only as long as they do: its cookie's `maxAge`, and so its time in the session
 * store, is cut to `maxAge`. A successful sign-in puts the session's own lifetime back
 * ({@link SessionStateStore.signedIn}, which `SamsaraStrategy` calls), so that passport's
 * `keepSessionInfo`, which carries the old session's cookie into the new one, keeps the full one.
 *
 * @example
 * ```ts
 * import { SamsaraStrategy, SessionStateStore } from 'passport-samsara';
 * passport.use(new SamsaraStrategy({ pkce: true, store: new SessionStateStore({ maxAge: 5 * 60_000 }) }));
 * app.get('/auth/samsara', passport.authenticate('samsara'));
 * app.get('/auth/samsara/callback', passport.authenticate('samsara', { keepSessionInfo: true, failureRedirect: '/' }),
 *   (req, res) => res.redirect('/'));
 * ```
 */
export class SessionStateStore {
  /** The session property the pending sign-ins live under. */
  readonly key: string;
  /** How many sign-ins one session may have pending. */
  readonly max: number;
  /** How long a pending sign-in stays good, in milliseconds. */
  readonly maxAge: number;
  private readonly now: () => number;
  private readonly boundSessions: boolean | undefined;

  constructor(options: SessionStateStoreOptions = {}) {
    const { key = 'oauth2:samsara', now } = options;
    if (typeof key !== 'string' || key === '') {
      throw new ConfigurationError('SessionStateStore option key must be a non-empty string.');
    }
    if (now !== undefined && typeof now !== 'function') {
      throw new ConfigurationError('SessionStateStore option now must be a function that returns milliseconds.');
    }
    this.key = key;
    this.max = numberOption('SessionStateStore', 'max', options.max, 5, { min: 1, max: 100, integer: true });
    this.maxAge = numberOption('SessionStateStore', 'maxAge', options.maxAge, 10 * 60_000, {
      min: 1_000,
      max: 86_400_000,
    });
    // Read at each call, not captured, so a clock swapped after construction (fake timers) applies.
    this.now = now ?? (() => Date.now());
    this.boundSessions = options.boundSessions;
  }

  /**
   * Called by passport-oauth2 before the redirect to authorize: keeps a new pending sign-in and
   * answers its handle. passport-oauth2 picks the call form by arity (`store.length`), so this must
   * keep exactly five declared parameters, none with a default, to receive the PKCE verifier.
   */
  store(
    req: SessionRequest,
    verifier: string | undefined,
    state: unknown,
    _meta: unknown,
    callback: StoreCallback,
  ): void {
    const session = sessionOf(req);
    if (!session) {
      callback(new Error(NO_SESSION));
      return;
    }
    const now = this.now();
    const handle = randomBytes(HANDLE_BYTES).toString('base64url');
    const entry: PendingSignIn = { hash: digest(handle).toString('base64url'), expiresAt: now + this.maxAge };
    if (typeof verifier === 'string') entry.verifier = verifier;
    if (state !== undefined) entry.state = state;
    // Expired ones can never finish; carrying them would only grow the session (or its cookie).
    const kept = this.read(session).filter((p) => p.expiresAt > now);
    kept.push(entry);
    this.write(session, kept.slice(-this.max));
    if (this.boundSessions ?? isRestored(this)) cutLifetime(session, session[this.key] as Slot, this.maxAge);
    callback(null, handle);
  }

  /**
   * Called by passport-oauth2 on the callback: finds the pending sign-in the `state` names and
   * spends it. Answers its PKCE verifier (or `true`) and its app state, or `false` and a message.
   * Four declared parameters, for the same arity dispatch as {@link SessionStateStore.store}.
   */
  verify(req: SessionRequest, providedState: unknown, _meta: unknown, callback: VerifyCallback): void {
    const session = sessionOf(req);
    if (!session) {
      callback(new Error(NO_SESSION));
      return;
    }
    const now = this.now();
    const pending = this.read(session);
    const index = typeof providedState === 'string' ? indexOf(pending, providedState) : -1;
    const found = index === -1 ? undefined : pending[index];
    // Spent whatever the outcome, so a replay fails; expired ones could never succeed.
    this.write(
      session,
      pending.filter((p, i) => i !== index && p.expiresAt > now),
    );
    if (pending.length === 0) {
      callback(null, false, { message: UNABLE });
      return;
    }
    if (!found) {
      callback(null, false, { message: INVALID });
      return;
    }
    if (found.expiresAt <= now) {
      callback(null, false, { message: EXPIRED });
      return;
    }
    callback(null, found.verifier ?? true, found.state);
  }

  /**
   * Called when a sign-in this store verified has succeeded, before the login: gives the session
   * back the lifetime it had before pending sign-ins cut it. `SamsaraStrategy` calls it; call it
   * yourself only when using this store with another strategy.
   */
  signedIn(req: SessionRequest): void {
    const session = sessionOf(req);
    const slot = session?.[this.key];
    if (session && isRecord(slot) && restoreLifetime(session, slot)) this.write(session, this.read(session), false);
  }

  private read(session: Record<string, unknown>): PendingSignIn[] {
    const slot = session[this.key];
    const list: unknown = isRecord(slot) ? slot.pending : undefined;
    // Sessions outlive deploys: passport-oauth2's layout or a damaged entry reads as nothing pending.
    return Array.isArray(list) ? list.filter(isPendingSignIn) : [];
  }

  /**
   * Keeps `pending`, and the session's own lifetime while it is cut (even with nothing pending: a
   * later Connect must not take the cut lifetime for the session's own), unless `keepMaxAge` is false.
   */
  private write(session: Record<string, unknown>, pending: PendingSignIn[], keepMaxAge = true): void {
    const slot = session[this.key];
    const cut = keepMaxAge && isRecord(slot) && 'sessionMaxAge' in slot;
    if (pending.length > 0 || cut) {
      session[this.key] = {
        pending,
        ...(cut ? { sessionMaxAge: slot.sessionMaxAge as number | null } : {}),
      } satisfies Slot;
    } else {
      Reflect.deleteProperty(session, this.key);
    }
  }
}

function sessionOf(req: SessionRequest): Record<string, unknown> | undefined {
  return isRecord(req.session) ? req.session : undefined;
}

function digest(handle: string): Buffer {
  return createHash('sha256').update(handle).digest();
}

/** The index of the pending sign-in whose hash is the handle's, or -1. */
function indexOf(pending: PendingSignIn[], handle: string): number {
  const wanted = digest(handle);
  let index = -1;
  for (let i = 0; i < pending.length; i++) {
    // Every entry is compared, without stopping at a match, so timing tells nothing about which.
    const equal = timingSafeEqual(wanted, Buffer.from(pending[i].hash, 'base64url'));
    if (equal && index === -1) index = i;
  }
  return index;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isPendingSignIn(value: unknown): value is PendingSignIn {
  return (
    isRecord(value) &&
    typeof value.hash === 'string' &&
    HASH_PATTERN.test(value.hash) &&
    typeof value.expiresAt === 'number' &&
    Number.isFinite(value.expiresAt) &&
    (value.verifier === undefined || typeof value.verifier === 'string')
  );
}
