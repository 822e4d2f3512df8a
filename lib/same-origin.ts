import type { Request } from 'express';
import { CrossSiteRequestError } from './errors/index.js';

/**
 * Whether a request that changes something (a sign-out, a Disconnect) comes from the app's own
 * pages, by OWASP's current guidance against cross-site requests: Fetch Metadata first, then the
 * `Origin` (or `Referer`) compared with the app's own origin (`req.protocol` and `Host`). A
 * `same-site` request is refused too: a sibling subdomain or another port of the same host is
 * another origin, and SameSite=Lax cookies ride along from there. `trusted` origins may post too.
 */
export function fromOwnPage(req: Request, trusted: ReadonlySet<string>): boolean {
  const origin = req.get('origin');
  const site = req.get('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin' || (origin !== undefined && trusted.has(origin));
  const claimed = origin ?? originOf(req.get('referer'));
  if (claimed === undefined || claimed === 'null') return false;
  return claimed === `${req.protocol}://${req.get('host') ?? ''}` || trusted.has(claimed);
}

/** The refusal of a request from another origin: `what` (Disconnect, Sign-out) changed nothing. */
export function crossSiteRequest(what: string): CrossSiteRequestError {
  return new CrossSiteRequestError(
    `${what} only answers requests from the app's own pages; this one came from another origin.`,
  );
}

/** Whether the request brought a cookie named `name`: without its session, there is nothing to end. */
export function carriesCookie(req: Request, name: string): boolean {
  return (req.get('cookie') ?? '').split(';').some((pair) => pair.trim().startsWith(`${name}=`));
}

function originOf(url: string | undefined): string | undefined {
  return url !== undefined && URL.canParse(url) ? new URL(url).origin : undefined;
}
