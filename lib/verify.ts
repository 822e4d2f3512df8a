import type { Request } from 'express';
import type OAuth2Strategy from 'passport-oauth2';
import { ConfigurationError } from './errors/index.js';
import type { SamsaraProfile } from './profile.js';
import type { TokenResponse } from './tokens/credentials.js';
import type { TokenManager } from './tokens/manager.js';

// The verify callbacks SamsaraStrategy accepts, and the one wrapper passport-oauth2 sees. Verify
// only decides: the wrapper keeps the grant of every sign-in it accepts, and lets go of the others.

/**
 * The token response as passport-oauth2 hands it to a verify callback, plus `expires_at`:
 * milliseconds since the epoch, computed once when the response arrived.
 *
 * @example
 * ```ts
 * new SamsaraStrategy({ verify: async ({ profile, params }) => ({ orgId: profile.id, orgName: profile.displayName, scope: params.scope }) });
 * ```
 */
export interface SamsaraTokenParams extends TokenResponse {
  expires_in: number;
  token_type?: string;
  [field: string]: unknown;
}

/**
 * What the default verify puts in the session: names only, never a token. `import
 * 'passport-samsara/user'` makes it the type of `req.user`.
 *
 * @example
 * ```ts
 * import 'passport-samsara/user';
 * app.get('/', (req, res) => res.send(`Hello ${req.user?.orgName ?? 'stranger'}`));
 * ```
 */
export interface SamsaraUser {
  orgId: string;
  orgName: string;
}

/**
 * What a sign-in hands the options-object verify ({@link SamsaraVerifyFunction}).
 *
 * @example
 * ```ts
 * const verify = async ({ profile, params, req }: SamsaraSignIn) => ({ orgId: profile.id, orgName: profile.displayName, via: req.hostname, scope: params.scope });
 * ```
 */
export interface SamsaraSignIn {
  /** The organization, from `GET /me`: `profile.id` is the key its grant is kept under. */
  profile: SamsaraProfile;
  /** The token response (with `expires_at`). The strategy keeps the grant: there is nothing to store. */
  params: SamsaraTokenParams;
  /** The callback's request: `req.user` is your own signed-in user with `passport.authorize`. */
  req: Request;
}

/**
 * The verify of `new SamsaraStrategy({ verify })`, typed without annotations: decide whether the
 * organization may sign in, and return the user (`false` refuses). On acceptance the strategy
 * keeps the grant under `profile.id` before passport logs in; on refusal it lets the grant go. A
 * user that names an `orgId` must name `profile.id`.
 *
 * @example
 * ```ts
 * new SamsaraStrategy({
 *   tokens,
 *   verify: async ({ profile }) => ((await accounts.allows(profile.id)) ? { orgId: profile.id, orgName: profile.displayName } : false),
 * });
 * ```
 */
export type SamsaraVerifyFunction = (signIn: SamsaraSignIn) => Verified | PromiseLike<Verified>;

/**
 * passport-oauth2's `done`.
 *
 * @example
 * ```ts
 * const verify = (accessToken: string, refreshToken: string, profile: SamsaraProfile, done: VerifyDone) => done(null, { orgId: profile.id });
 * ```
 */
export type VerifyDone = OAuth2Strategy.VerifyCallback;
/**
 * What a verify answers: the user (`Express.User`: your own user type, or with `import
 * 'passport-samsara/user'` the Samsara user), or a `SamsaraUser` (with `passport.authorize`, the
 * user lands on `req.account`, not `req.user`), or `false` to refuse.
 *
 * @inline
 */
type Verified = Express.User | SamsaraUser | false;

/**
 * A passport-style verify that returns the user (or a promise of it; `false` refuses):
 * `async (accessToken, refreshToken, profile) => user`. Kept for compatibility: prefer
 * {@link SamsaraVerifyFunction}.
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
 * passport's verify with the token params: it must declare all five parameters (passport-oauth2
 * counts them), so `params` comes before `profile`. It may call `done` or return (a promise of)
 * the user.
 *
 * @example
 * ```ts
 * const verify: SamsaraVerifyCallbackWithParams = async (accessToken, refreshToken, params, profile, _done) =>
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
 * Any passport-style verify. As in passport-oauth2 the number of declared parameters decides the
 * arguments: 3 or fewer `(accessToken, refreshToken, profile)`, 4 `(…, profile, done)`, 5
 * `(…, params, profile, done)` (one more each with `passReqToCallback`). Every form may call
 * `done` or return (a promise of) the user; the first answer wins. Whatever the form, the
 * strategy keeps the grant of a sign-in it accepts.
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

/** Which verify the strategy was given, and so which arguments it gets. */
export type VerifyForm = { object: SamsaraVerifyFunction } | { passport: AnyVerify; passReq: boolean };

/** The default verify: names only, never a token. */
export const namesOnly: SamsaraVerifyFunction = ({ profile }) => ({ orgId: profile.id, orgName: profile.displayName });

/**
 * The one wrapper passport-oauth2 calls, always with the request and the token params (six
 * declared parameters, its arity for that). It calls the app's verify in the form it was given;
 * every form may answer through `done` or by returning (a promise of) the user, and the first
 * answer wins (a promise of undefined leaves it to `done`). Accepted: the grant is connected under
 * the organization id, then passport logs in. Refused or failed: the grant is let go (`discard`),
 * since nobody would hold it otherwise.
 */
export function adaptVerify(form: VerifyForm, tokens: TokenManager): AnyVerify {
  return (
    req: Request,
    accessToken: string,
    refreshToken: string,
    params: SamsaraTokenParams,
    profile: SamsaraProfile | undefined,
    done: VerifyDone,
  ): void => {
    let settled = false;
    const letGo = (key: string | undefined): void => void tokens.discard(key, params).catch(() => undefined);
    const once: VerifyDone = (err, user, info) => {
      if (settled) return;
      settled = true;
      if (err || !user) {
        letGo(profile?.id);
        done(err, user, info);
        return;
      }
      let key: string;
      try {
        key = grantKey(user, profile);
      } catch (refusal) {
        letGo(profile?.id);
        done(refusal);
        return;
      }
      tokens.connect(key, params).then(
        () => done(null, user, info),
        (failure: unknown) => {
          letGo(key);
          done(failure);
        },
      );
    };
    let result: unknown;
    try {
      if ('object' in form) {
        if (!profile) throw new ConfigurationError('The verify option needs the profile: skipUserProfile must be off.');
        result = form.object({ profile, params, req });
      } else {
        const head = form.passReq ? [req, accessToken, refreshToken] : [accessToken, refreshToken];
        const withParams = form.passport.length >= 5 + (form.passReq ? 1 : 0);
        result = form.passport(...head, ...(withParams ? [params, profile] : [profile]), once);
      }
    } catch (err) {
      once(err);
      return;
    }
    const answer = (user: unknown): void => {
      if (user !== undefined) once(null, user as Verified);
      else if ('object' in form) once(new TypeError('verify returned undefined: return the user, or false to refuse.'));
    };
    if (isThenable(result)) {
      result.then(answer, (err: unknown) => once(err ?? new Error('The verify callback rejected without a reason.')));
    } else {
      answer(result);
    }
  };
}

/**
 * The key a sign-in's grant is kept under: the organization's id, which a user that names an
 * `orgId` must repeat (a verify that names another organization is a bug that would hand one
 * organization's grant to another's users). Without the profile (`skipUserProfile`) only the
 * user can say which organization signed in.
 */
function grantKey(user: object, profile: SamsaraProfile | undefined): string {
  const named = (user as { orgId?: unknown }).orgId;
  if (profile) {
    if (named === undefined || named === profile.id) return profile.id;
    throw new ConfigurationError(
      `verify accepted organization ${profile.id} but returned a user whose orgId is ${JSON.stringify(named)}: the grant belongs to the organization that signed in, so orgId must be profile.id (or left out). Nothing was kept.`,
    );
  }
  if (typeof named === 'string' && named !== '') return named;
  throw new ConfigurationError(
    'With skipUserProfile the strategy learns the organization only from verify: return a user with orgId (the organization id), so that its grant can be kept. Nothing was kept.',
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}
