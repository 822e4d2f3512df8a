import type { Request, RequestHandler } from 'express';
import { Passport } from 'passport';
import { SamsaraStrategy } from '../strategy.js';
import type { SamsaraProfile } from '../profile.js';
import type { TokenManager } from '../tokens/manager.js';
import type { SamsaraTokenParams, VerifyDone } from '../verify.js';
import { AppFailure, type FailureKind } from './failures.js';
import type { SamsaraAppOptions } from './options.js';
import type { AppUser } from './pages.js';

/**
 * The app's own passport (never the host's global one) around a SamsaraStrategy on the shared
 * manager, with the app's verify: the host's hook first, then the grant is connected.
 */
export function signInPassport(
  tokens: TokenManager,
  options: SamsaraAppOptions,
  callbackURL: string | undefined,
): InstanceType<typeof Passport> {
  const passport = new Passport();
  const strategy = new SamsaraStrategy(
    { ...options.strategy, tokens, passReqToCallback: true, ...(callbackURL ? { callbackURL } : {}) },
    // Five parameters after req: passport's arity for (…, params, profile, done); this one returns
    // a promise instead of calling done.
    async (
      req: Request,
      _accessToken: string,
      _refreshToken: string,
      params: SamsaraTokenParams,
      profile: SamsaraProfile,
      _done: VerifyDone,
    ): Promise<AppUser | false> => {
      const extra = options.verify ? await options.verify(profile, req) : {};
      // A refused organization's grant is never stored: the strategy lets it go.
      if (extra === false) return false;
      await tokens.connect(profile.id, params);
      return { ...extra, orgId: profile.id, orgName: profile.displayName, tokenLifetime: params.expires_in };
    },
  );
  passport.use(strategy);
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user: Express.User, done) => done(null, user));
  return passport;
}

/**
 * `GET /auth/samsara` (Connect, and the Direct Install URL) and its callback. The callback URL is
 * the configured one, else it follows the mount point. The callback logs in keeping the session's
 * other pending sign-ins (another tab), and turns every way a sign-in can end without a user into
 * its failure page.
 */
export function signInRoutes(
  passport: InstanceType<typeof Passport>,
  callbackURL: string | undefined,
): { start: RequestHandler; callback: RequestHandler } {
  // (passport's AuthenticateOptions type does not list the strategy's own callbackURL option.)
  const optionsFor = (req: Request): Record<string, unknown> =>
    callbackURL ? {} : { callbackURL: `${req.baseUrl}/auth/samsara/callback` };
  return {
    start: (req, res, next) => {
      (passport.authenticate('samsara', optionsFor(req)) as RequestHandler)(req, res, next);
    },
    callback: (req, res, next) => {
      const finish = (err: unknown, user: Express.User | false | undefined, _info: unknown, status: unknown): void => {
        if (err) {
          next(err);
          return;
        }
        if (!user) {
          next(new AppFailure(failureOf(req, status)));
          return;
        }
        req.logIn(user, { session: true, keepSessionInfo: true }, (loginError: unknown) => {
          if (loginError) next(loginError);
          else res.redirect(303, `${req.baseUrl}/`);
        });
      };
      (passport.authenticate('samsara', optionsFor(req), finish) as RequestHandler)(req, res, next);
    },
  };
}

/**
 * Why a callback ended without a user. passport-oauth2 fails `access_denied` without a status, the
 * state store fails with 403 (missing, forged, expired or spent state) and a callback without a
 * code with 400; what remains is a verify that refused the organization.
 */
function failureOf(req: Request, status: unknown): FailureKind {
  if ((req.query as Record<string, unknown>).error === 'access_denied') return 'denied';
  if (status === 400 || status === 403) return 'expired';
  return 'refused';
}
