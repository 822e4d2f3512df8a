/** A passport-oauth2 state store, as passport-oauth2 calls one: its `verify` takes 3 or 4 arguments. */
export interface StateVerifier {
  verify(...args: unknown[]): void;
}

/** What passport-oauth2 tells a 4-argument store's `verify` about the sign-in. */
export interface StateMeta {
  authorizationURL: string;
  tokenURL: string;
  clientID: string;
  callbackURL: string | undefined;
}

/**
 * Checks (and spends, as the code path would) the `state` of a callback with the strategy's own
 * state store. passport-oauth2 reads `error=` before it looks at `state`, so a callback with an
 * error and no state, or a forged one, would reach the app as Samsara's own `AuthorizationError`:
 * a 5xx and an error-level log line that anyone on the Internet can cause. `ok` is false when the
 * state names no sign-in this browser started.
 */
export function verifyState(
  store: StateVerifier,
  req: unknown,
  state: unknown,
  meta: StateMeta,
  callback: (err: Error | null, ok: boolean) => void,
): void {
  const loaded = (err: Error | null, ok?: unknown): void => {
    callback(err, !err && Boolean(ok));
  };
  try {
    // The same arity dispatch as passport-oauth2's callback path.
    if (store.verify.length === 4) store.verify(req, state, meta, loaded);
    else store.verify(req, state, loaded);
  } catch (err) {
    callback(err as Error, false);
  }
}
