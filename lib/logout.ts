import type { Request, RequestHandler } from 'express';
import { CrossSiteRequestError, StoreUnavailableError } from './errors/index.js';
import { signedInOrg } from './express.js';
import type { TokenManager } from './tokens/manager.js';

/**
 * Options of {@link samsaraLogout}.
 *
 * @example
 * ```ts
 * app.post('/logout', samsaraLogout({ tokens, redirect: '/', cookieName: 'sid', trustedOrigins: ['https://admin.example.com'] }));
 * ```
 */
export interface SamsaraLogoutOptions {
  tokens: TokenManager;
  /** The token store key of a request. Default: `req.user.orgId`. */
  key?: (req: Request) => string | undefined;
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
 * A route handler that disconnects: revokes every grant the organization gave the app, logs the
 * user out, destroys the session and clears its cookie.
 *
 * Only the app's own pages can trigger it: a request a browser marks as coming from another
 * origin (`Sec-Fetch-Site` other than `same-origin`; without Fetch Metadata, an `Origin` or
 * `Referer` of another origin, or neither) is refused with `CrossSiteRequestError` (403) and
 * changes nothing. A request that brought no session cookie clears nothing. When Samsara's revoke
 * fails the user is still signed out, the grant stays connected for a retry, and `RevokeFailedError`
 * goes to `next`; when the token store is down nothing is signed out (`StoreUnavailableError`).
 *
 * @example
 * ```ts
 * app.post('/logout', samsaraLogout({ tokens, redirect: '/' }));
 * ```
 */
export function samsaraLogout(options: SamsaraLogoutOptions): RequestHandler {
  const keyOf = options.key ?? signedInOrg;
  const cookieName = options.cookieName ?? 'connect.sid';
  const trusted = new Set(options.trustedOrigins ?? []);
  return (req, res, next) => {
    if (!fromOwnPage(req, trusted)) {
      next(
        new CrossSiteRequestError(
          "Disconnect only answers requests from the app's own pages; this one came from another origin.",
        ),
      );
      return;
    }
    const done = (): void => {
      if (options.redirect) res.redirect(303, options.redirect);
      else res.status(204).end();
    };
    if (!carriesCookie(req, cookieName)) {
      done();
      return;
    }
    const key = keyOf(req);
    const revoked =
      key === undefined
        ? Promise.resolve(undefined)
        : options.tokens.revoke(key).then(
            () => undefined,
            (err: unknown) => err,
          );
    void revoked.then((revokeError) => {
      // The store could not even be read: the credentials are still there, so keep the session
      // (and with it the key) for a retry.
      if (revokeError instanceof StoreUnavailableError) {
        next(revokeError);
        return;
      }
      const finish = (err?: unknown): void => {
        res.clearCookie(cookieName);
        if (err ?? revokeError) next(err ?? revokeError);
        else done();
      };
      const destroy = (): void => {
        // express-session's, when present (its types are the app's business, not a dependency).
        const session = (req as { session?: { destroy(callback: (err: unknown) => void): void } }).session;
        if (session) session.destroy(finish);
        else finish();
      };
      if (typeof req.logout === 'function')
        req.logout({ keepSessionInfo: false }, (err: unknown) => (err ? finish(err) : destroy()));
      else destroy();
    });
  };
}

/**
 * OWASP's current guidance against cross-site requests: Fetch Metadata first, then the `Origin`
 * (or `Referer`) compared with the app's own origin. `same-site` is refused too: a sibling
 * subdomain or another port of the same host is another origin, and SameSite=Lax cookies ride
 * along from there.
 */
function fromOwnPage(req: Request, trusted: ReadonlySet<string>): boolean {
  const origin = req.get('origin');
  const site = req.get('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin' || (origin !== undefined && trusted.has(origin));
  const claimed = origin ?? originOf(req.get('referer'));
  if (claimed === undefined || claimed === 'null') return false;
  return claimed === `${req.protocol}://${req.get('host') ?? ''}` || trusted.has(claimed);
}

function originOf(url: string | undefined): string | undefined {
  return url !== undefined && URL.canParse(url) ? new URL(url).origin : undefined;
}

function carriesCookie(req: Request, name: string): boolean {
  return (req.get('cookie') ?? '').split(';').some((pair) => pair.trim().startsWith(`${name}=`));
}
