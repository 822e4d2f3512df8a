import type { Request, RequestHandler, Response } from 'express';
import { StoreUnavailableError } from './errors/index.js';
import { signedInOrg } from './express.js';
import { carriesCookie, crossSiteRequest, fromOwnPage } from './same-origin.js';
import type { TokenManager } from './tokens/manager.js';

/**
 * Options of {@link samsaraSignOut}.
 *
 * @example
 * ```ts
 * app.post('/sign-out', samsaraSignOut({ redirect: '/', cookieName: 'sid' }));
 * ```
 */
export interface SamsaraSignOutOptions {
  /** Where to send the browser afterwards; without it the answer is 204. */
  redirect?: string;
  /** The session cookie's name. Default `connect.sid` (express-session's). */
  cookieName?: string;
  /**
   * Origins besides the app's own whose pages may post here, exactly as a browser sends them in
   * `Origin` (`https://admin.example.com`, no path). Default: none.
   */
  trustedOrigins?: readonly string[];
}

/**
 * Options of {@link samsaraDisconnect}.
 *
 * @example
 * ```ts
 * app.post('/disconnect', samsaraDisconnect({ tokens, redirect: '/', trustedOrigins: ['https://admin.example.com'] }));
 * ```
 */
export interface SamsaraDisconnectOptions extends SamsaraSignOutOptions {
  tokens: TokenManager;
  /**
   * The organization to disconnect. Default: `req.user.orgId`. Read it only from authenticated
   * state (the session's user, your account record), never from what the request sends.
   */
  key?: (req: Request) => string | undefined | PromiseLike<string | undefined>;
  /**
   * Whether Disconnect also signs the user out (ends the session). Default `true`, for an app
   * whose users sign in with Samsara; `false` for an app with its own login, whose user stays
   * signed in while its account loses the organization.
   */
  signOut?: boolean;
}

/**
 * @deprecated Use {@link SamsaraDisconnectOptions} (with `samsaraDisconnect`), or
 * `SamsaraSignOutOptions` (with `samsaraSignOut`) for a button that only signs out.
 */
export type SamsaraLogoutOptions = SamsaraDisconnectOptions;

/**
 * A route handler that signs the user out, and nothing more: `req.logout()`, the session
 * destroyed, its cookie cleared. The organization's grant stays connected, for the user's
 * colleagues and your jobs: this is the "Sign out" button (see {@link samsaraDisconnect} for
 * "Disconnect").
 *
 * Only the app's own pages can trigger it, so a page on another site cannot sign your users out:
 * a request a browser marks as coming from another origin (`Sec-Fetch-Site` other than
 * `same-origin`; without Fetch Metadata, an `Origin` or `Referer` of another origin, or neither)
 * is refused with `CrossSiteRequestError` (403) and changes nothing. A request that brought no
 * session cookie clears nothing.
 *
 * @example
 * ```ts
 * app.post('/sign-out', samsaraSignOut({ redirect: '/' }));
 * ```
 */
export function samsaraSignOut(options: SamsaraSignOutOptions = {}): RequestHandler {
  const cookieName = options.cookieName ?? 'connect.sid';
  const trusted = new Set(options.trustedOrigins ?? []);
  return (req, res, next) => {
    if (!fromOwnPage(req, trusted)) {
      next(crossSiteRequest('Sign-out'));
      return;
    }
    if (!carriesCookie(req, cookieName)) {
      finish(res, options.redirect);
      return;
    }
    endSession(req, res, cookieName, (err) => {
      if (err) next(err);
      else finish(res, options.redirect);
    });
  };
}

/**
 * A route handler that disconnects the organization: revokes every grant it gave the app
 * (`tokens.revoke`, which tells `onDisconnect`), then signs the user out as {@link samsaraSignOut}
 * does (unless `signOut: false`). Every user of that organization loses Samsara access: this is
 * the "Disconnect" button, for the customer's admin.
 *
 * Protected as {@link samsaraSignOut} is: a request from another origin is refused with
 * `CrossSiteRequestError` (403) and revokes nothing. When Samsara's revoke fails the user is still
 * signed out, the grant stays connected for a retry, and `RevokeFailedError` goes to `next`; when
 * the token store is down nothing is signed out (`StoreUnavailableError`), so the session keeps
 * its key for a retry.
 *
 * @example
 * ```ts
 * app.post('/disconnect', samsaraDisconnect({ tokens, redirect: '/' }));
 * ```
 */
export function samsaraDisconnect(options: SamsaraDisconnectOptions): RequestHandler {
  const keyOf = options.key ?? signedInOrg;
  const cookieName = options.cookieName ?? 'connect.sid';
  const trusted = new Set(options.trustedOrigins ?? []);
  const signOut = options.signOut ?? true;
  return (req, res, next) => {
    if (!fromOwnPage(req, trusted)) {
      next(crossSiteRequest('Disconnect'));
      return;
    }
    if (signOut && !carriesCookie(req, cookieName)) {
      finish(res, options.redirect);
      return;
    }
    void (async (): Promise<unknown> => {
      const key = await keyOf(req);
      if (key !== undefined) await options.tokens.revoke(key);
      return undefined;
    })()
      .catch((err: unknown) => err)
      .then((revokeError) => {
        // The store could not even be read: the credentials are still there, so keep the session
        // (and with it the key) for a retry.
        if (revokeError instanceof StoreUnavailableError || (revokeError && !signOut)) {
          next(revokeError);
          return;
        }
        if (!signOut) {
          finish(res, options.redirect);
          return;
        }
        endSession(req, res, cookieName, (err) => {
          if (err ?? revokeError) next(err ?? revokeError);
          else finish(res, options.redirect);
        });
      });
  };
}

/**
 * @deprecated `samsaraLogout` disconnects the whole organization, for every one of its users: use
 * `samsaraDisconnect` for that, and `samsaraSignOut` for a button that only signs the user out.
 * Same options and behaviour as `samsaraDisconnect`; it will be removed in a later major version.
 *
 * @example
 * ```ts
 * app.post('/disconnect', samsaraDisconnect({ tokens, redirect: '/' })); // instead of samsaraLogout(...)
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-deprecated -- the deprecated function takes the deprecated type
export function samsaraLogout(options: SamsaraLogoutOptions): RequestHandler {
  return samsaraDisconnect(options);
}

function finish(res: Response, redirect: string | undefined): void {
  if (redirect) res.redirect(303, redirect);
  else res.status(204).end();
}

/** passport's logout, then the session destroyed and its cookie cleared (even when one step fails). */
function endSession(req: Request, res: Response, cookieName: string, done: (err?: unknown) => void): void {
  const cleared = (err?: unknown): void => {
    res.clearCookie(cookieName);
    done(err);
  };
  const destroy = (): void => {
    // express-session's, when present (its types are the app's business, not a dependency).
    const session = (req as { session?: { destroy(callback: (err: unknown) => void): void } }).session;
    if (session) session.destroy(cleared);
    else cleared();
  };
  if (typeof req.logout === 'function')
    req.logout({ keepSessionInfo: false }, (err: unknown) => (err ? cleared(err) : destroy()));
  else destroy();
}
