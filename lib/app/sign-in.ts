import type { Request, RequestHandler } from 'express';
import { Passport } from 'passport';
import { SamsaraStrategy } from '../strategy.js';
import type { TokenManager } from '../tokens/manager.js';
import { servedOf, type AppUser, type SamsaraAppAccount } from './account.js';
import { sessionBinding } from './binding.js';
import { AppFailure } from './failure-kinds.js';
import type { FailureKind } from './failure-pages.js';
import type { SamsaraAppOptions } from './options.js';

/**
 * The app's own passport (never the host's global one) around a SamsaraStrategy on the shared
 * manager, with the app's verify: the host's hook decides, the strategy keeps the grant. Its
 * sessions hold the user sealed (see {@link sessionBinding}).
 */
export function signInPassport(
  tokens: TokenManager,
  options: SamsaraAppOptions,
  callbackURL: string | undefined,
  binding: ReturnType<typeof sessionBinding> | undefined,
): InstanceType<typeof Passport> {
  const passport = new Passport();
  const strategy = new SamsaraStrategy({
    ...options.strategy,
    tokens,
    ...(callbackURL ? { callbackURL } : {}),
    verify: async ({ profile, params, req }): Promise<AppUser | false> => {
      const extra = options.verify ? await options.verify(profile, req) : {};
      // A refused organization's grant is never stored: the strategy lets it go.
      if (extra === false) return false;
      return {
        ...extra,
        orgId: profile.id,
        orgName: profile.displayName,
        tokenLifetime: params.expires_in,
        connectedAt: Date.now(),
      };
    },
  });
  passport.use(strategy);
  if (binding) {
    passport.serializeUser(binding.serialize);
    passport.deserializeUser(binding.deserialize);
  }
  return passport;
}

/**
 * `GET /auth/samsara` (Connect, and the Direct Install URL) and its callback. The callback URL is
 * the configured one, else it follows the mount point. In the app's own session the callback logs
 * in, keeping the session's other pending sign-ins (another tab); with `account` it logs nobody in
 * and records the organization on your account. Every way a sign-in can end without a user turns
 * into its failure page.
 */
export function signInRoutes(
  passport: InstanceType<typeof Passport>,
  callbackURL: string | undefined,
  account: SamsaraAppAccount | undefined,
): { start: RequestHandler; callback: RequestHandler } {
  // (passport's AuthenticateOptions type does not list the strategy's own callbackURL option.)
  const optionsFor = (req: Request): Record<string, unknown> =>
    callbackURL ? {} : { callbackURL: `${req.baseUrl}/auth/samsara/callback` };
  // With your accounts, a sign-in belongs to one: nobody signed in to your app connects nothing.
  const signedOut = (req: Request): boolean => account !== undefined && servedOf(req).accountId === undefined;
  return {
    start: (req, res, next) => {
      if (signedOut(req)) {
        next(new AppFailure('signed-out'));
        return;
      }
      (passport.authenticate('samsara', optionsFor(req)) as RequestHandler)(req, res, next);
    },
    callback: (req, res, next) => {
      if (signedOut(req)) {
        next(new AppFailure('signed-out'));
        return;
      }
      const finish = (err: unknown, user: Express.User | false | undefined, _info: unknown, status: unknown): void => {
        if (err) {
          next(err);
          return;
        }
        if (!user) {
          next(new AppFailure(failureOf(req, status)));
          return;
        }
        const home = `${req.baseUrl}/`;
        const accountId = servedOf(req).accountId;
        if (account && accountId !== undefined) {
          const { orgId, orgName, connectedAt, tokenLifetime } = user as AppUser;
          const connection = { orgId, orgName, connectedAt, ...(tokenLifetime !== undefined && { tokenLifetime }) };
          Promise.resolve(account.connect(accountId, connection)).then(() => res.redirect(303, home), next);
          return;
        }
        req.logIn(user, { session: true, keepSessionInfo: true }, (loginError: unknown) => {
          if (loginError) next(loginError);
          else res.redirect(303, home);
        });
      };
      (passport.authenticate('samsara', optionsFor(req), finish) as RequestHandler)(req, res, next);
    },
  };
}

/**
 * Why a callback ended without a user. The strategy fails a callback whose state this browser does
 * not hold with 400 or 403 (missing, forged, expired or spent; an `error=` among them), and one
 * without a code with 400: checked first, so that only a verified `access_denied` reads as a
 * denial. What remains is a verify that refused the organization.
 */
function failureOf(req: Request, status: unknown): FailureKind {
  if (status === 400 || status === 403) return 'expired';
  if ((req.query as Record<string, unknown>).error === 'access_denied') return 'denied';
  return 'refused';
}
