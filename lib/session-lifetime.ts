// How long a session lives while it holds nothing but pending sign-ins, for SessionStateStore:
// as long as they do, so that anonymous Connect clicks cannot fill the session store; a
// successful sign-in gives it its own lifetime back.

/** Where a state store keeps, beside its pending sign-ins, the lifetime it cut. */
export interface LifetimeSlot {
  /**
   * The session cookie's `maxAge` before the store cut it to its pending sign-ins' (null: a
   * browser-session cookie), put back when a sign-in succeeds. Absent while nothing was cut.
   */
  sessionMaxAge?: number | null;
}

/** express-session's cookie: setting `maxAge` sets the session's expiry, in the store too. */
interface SessionCookie {
  maxAge: number | null;
  originalMaxAge: number | null;
}

/** State stores whose strategy gives a session its lifetime back at sign-in (see `boundSessions`). */
const restored = new WeakSet<object>();

/** Called by `SamsaraStrategy` for its state store: it calls `signedIn` on every successful sign-in. */
export function restoresSessions(store: object): void {
  restored.add(store);
}

/** Whether someone gives back what `store` cuts. */
export function isRestored(store: object): boolean {
  return restored.has(store);
}

/**
 * Cuts the lifetime of a session that holds only pending sign-ins to `maxAge`, never making it
 * longer than the session's own, and remembers that own lifetime in `slot`.
 */
export function cutLifetime(session: Record<string, unknown>, slot: LifetimeSlot, maxAge: number): void {
  const cookie = cookieOf(session);
  if (!cookie || !holdsOnlySignIns(session)) return;
  if (!('sessionMaxAge' in slot)) slot.sessionMaxAge = cookie.originalMaxAge ?? null;
  cookie.maxAge = Math.min(maxAge, slot.sessionMaxAge ?? Infinity);
}

/** Gives the session back the lifetime `slot` remembers; false when nothing was cut. */
export function restoreLifetime(session: Record<string, unknown>, slot: LifetimeSlot): boolean {
  const cookie = cookieOf(session);
  if (!cookie || !('sessionMaxAge' in slot)) return false;
  cookie.maxAge = slot.sessionMaxAge ?? null;
  return true;
}

/** express-session's cookie of the session, if it has one (cookie-session and others have none). */
function cookieOf(session: Record<string, unknown>): SessionCookie | undefined {
  const { cookie } = session;
  return typeof cookie === 'object' && cookie !== null && 'maxAge' in cookie && 'originalMaxAge' in cookie
    ? (cookie as SessionCookie)
    : undefined;
}

/**
 * Whether the session holds nothing but pending sign-ins (this store's or another's): no user,
 * nothing of the host's. passport leaves an empty `passport` object after a logout.
 */
function holdsOnlySignIns(session: Record<string, unknown>): boolean {
  return Object.entries(session).every(
    ([name, value]) =>
      name === 'cookie' ||
      value === undefined ||
      (typeof value === 'object' &&
        value !== null &&
        Object.keys(value).every((field) => field === 'pending' || field === 'sessionMaxAge')),
  );
}
