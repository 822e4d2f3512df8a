import type { Request } from 'express';
import type OAuth2Strategy from 'passport-oauth2';
import type { SamsaraProfile } from './profile.js';
import type { TokenResponse } from './tokens/credentials.js';
import type { TokenManager } from './tokens/manager.js';

// The verify callbacks SamsaraStrategy accepts, and the one wrapper passport-oauth2 sees.

/**
 * The token response as passport-oauth2 hands it to a verify callback, plus `expires_at`:
 * milliseconds since the epoch, computed once when the response arrived.
 *
 * @example
 * ```ts
 * async (accessToken, refreshToken, params: SamsaraTokenParams, profile, done) => ({ orgId: profile.id, expiresAt: params.expires_at })
 * ```
 */
export interface SamsaraTokenParams extends TokenResponse {
  expires_in: number;
  token_type?: string;
  [field: string]: unknown;
}

/**
 * What the default verify puts in the session: names only, never a token.
 *
 * @example
 * ```ts
 * app.get('/', (req, res) => res.send(`Hello ${(req.user as SamsaraUser).orgName}`));
 * ```
 */
export interface SamsaraUser {
  orgId: string;
  orgName: string;
}

/**
 * passport-oauth2's `done`.
 *
 * @example
 * ```ts
 * const verify = (accessToken: string, refreshToken: string, profile: SamsaraProfile, done: VerifyDone) => done(null, { orgId: profile.id });
 * ```
 */
export type VerifyDone = OAuth2Strategy.VerifyCallback;
type Verified = Express.User | false;

/**
 * A verify that returns the user (or a promise of it; `false` refuses):
 * `async (accessToken, refreshToken, profile) => user`.
 *
 * @example
 * ```ts
 * const verify: SamsaraVerifyAsync = async (accessToken, refreshToken, profile) => ({ orgId: profile.id });
 * ```
 */
export type SamsaraVerifyAsync = (
  accessToken: string,
  refreshToken: string,
  profile: SamsaraProfile,
) => Verified | PromiseLike<Verified>;
/**
 * passport's verify: calls `done` (it may also be `async` and return a promise of the user).
 *
 * @example
 * ```ts
 * const verify: SamsaraVerifyCallback = (accessToken, refreshToken, profile, done) => done(null, { orgId: profile.id });
 * ```
 */
export type SamsaraVerifyCallback = (
  accessToken: string,
  refreshToken: string,
  profile: SamsaraProfile,
  done: VerifyDone,
) => void | PromiseLike<Verified | void>; // eslint-disable-line @typescript-eslint/no-invalid-void-type -- passport's verify may call done and return nothing
/**
 * passport's verify with the token params: five parameters, so `params` comes before `profile`.
 * It may call `done` or return (a promise of) the user.
 *
 * @example
 * ```ts
 * const verify: SamsaraVerifyCallbackWithParams = async (accessToken, refreshToken, params, profile) =>
 *   ({ orgId: profile.id, expiresAt: params.expires_at });
 * ```
 */
export type SamsaraVerifyCallbackWithParams = (
  accessToken: string,
  refreshToken: string,
  params: SamsaraTokenParams,
  profile: SamsaraProfile,
  done: VerifyDone,
) => void | PromiseLike<Verified | void>; // eslint-disable-line @typescript-eslint/no-invalid-void-type -- passport's verify may call done and return nothing
/**
 * Any verify form. As in passport-oauth2 the number of declared parameters decides the arguments:
 * 3 or fewer `(accessToken, refreshToken, profile)`, 4 `(…, profile, done)`, 5
 * `(…, params, profile, done)` (one more each with `passReqToCallback`). Every form may call
 * `done` or return (a promise of) the user; the first answer wins.
 *
 * @example
 * ```ts
 * const verify: SamsaraVerify = async (accessToken, refreshToken, profile) => ({ orgId: profile.id });
 * ```
 */
export type SamsaraVerify = SamsaraVerifyAsync | SamsaraVerifyCallback | SamsaraVerifyCallbackWithParams;

/**
 * The verify forms of {@link SamsaraVerify}, with the request first (`passReqToCallback: true`).
 *
 * @example
 * ```ts
 * const verify: SamsaraVerifyWithRequest = async (req: Request, accessToken: string, refreshToken: string, profile: SamsaraProfile) =>
 *   ({ orgId: profile.id, invitedBy: req.query.invite });
 * ```
 */
export type SamsaraVerifyWithRequest =
  WithRequest<SamsaraVerifyAsync> | WithRequest<SamsaraVerifyCallback> | WithRequest<SamsaraVerifyCallbackWithParams>;
export type WithRequest<F extends (...args: never[]) => unknown> = (
  req: Request,
  ...rest: Parameters<F>
) => ReturnType<F>;

// any: the verify forms take different parameters; passport's arity rule picks the form.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyVerify = (...args: any[]) => unknown;

/** The default verify: connect the grant in the token manager, sign in names only. */
export function connectGrant(tokens: TokenManager) {
  return async (
    _accessToken: string,
    _refreshToken: string,
    params: SamsaraTokenParams,
    profile: SamsaraProfile,
    _done: VerifyDone, // declared so that passport's arity rule hands over the params
  ): Promise<SamsaraUser> => {
    await tokens.connect(profile.id, params);
    return { orgId: profile.id, orgName: profile.displayName };
  };
}

/**
 * passport-oauth2 picks the verify's arguments by its arity, so it gets one fixed-arity wrapper
 * that always receives the token params, and the wrapper calls the app's verify with passport's
 * arities (3 or fewer: no `done`; 4: `done`; 5: params and `done`; +1 with the request). Every form
 * may answer through `done` or by returning (a promise of) the user; the first answer wins, and
 * a promise that resolves to undefined leaves the answer to `done`. A verify that refuses (`false`)
 * or fails lets the grant go: nobody would hold it otherwise.
 */
export function adaptVerify(verify: AnyVerify, passReq: boolean, tokens: TokenManager): AnyVerify {
  const withParams = verify.length >= 5 + (passReq ? 1 : 0);
  const call = (
    head: unknown[],
    params: SamsaraTokenParams,
    profile: SamsaraProfile | undefined,
    done: VerifyDone,
  ): void => {
    let settled = false;
    const once: VerifyDone = (err, user, info) => {
      if (settled) return;
      settled = true;
      if (err || !user) tokens.discard(profile?.id, params).catch(() => undefined);
      done(err, user, info);
    };
    let result: unknown;
    try {
      result = verify(...head, ...(withParams ? [params, profile] : [profile]), once);
    } catch (err) {
      once(err);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (user) => {
          if (user !== undefined) once(null, user as Verified);
        },
        (err: unknown) => once(err ?? new Error('The verify callback rejected without a reason.')),
      );
    } else if (result !== undefined) {
      once(null, result as Verified);
    }
  };
  return passReq
    ? (req: Request, at: string, rt: string, params: SamsaraTokenParams, profile: SamsaraProfile, done: VerifyDone) =>
        call([req, at, rt], params, profile, done)
    : (at: string, rt: string, params: SamsaraTokenParams, profile: SamsaraProfile, done: VerifyDone) =>
        call([at, rt], params, profile, done);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
