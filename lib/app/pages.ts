import type { Request, RequestHandler } from 'express';
import { REGION_BASE_URLS } from '../endpoints.js';
import type { OAuthClient } from '../oauth-client.js';
import type { SamsaraUser } from '../verify.js';
import type { TokenManager } from '../tokens/manager.js';
import { escapeHTML, layout } from './html.js';
import { talksToEmulator } from './options.js';

/** What the app keeps in the session: the organization, your verify's additions, and the token lifetime. */
export interface AppUser extends SamsaraUser {
  /** `expires_in` at sign-in, in seconds: with the expiry, it dates the last refresh. */
  tokenLifetime?: number;
}

export function signedInUser(req: Request): AppUser | undefined {
  // Typed by the annotation, not an assertion: Express.User is empty until an app augments it.
  const user: Partial<AppUser> | undefined = req.user;
  return typeof user?.orgId === 'string' && typeof user.orgName === 'string'
    ? { ...user, orgId: user.orgId, orgName: user.orgName }
    : undefined;
}

/** Home: Connect, or the organization, the grant's state and Disconnect. */
export function homePage(tokens: TokenManager): RequestHandler {
  return async (req, res) => {
    const base = req.baseUrl;
    const user = signedInUser(req);
    res.set('Cache-Control', 'no-store');
    if (!user) {
      const disconnected =
        req.query.disconnected === '1'
          ? '<p class="notice" id="disconnected" role="status">Disconnected: Samsara revoked this app’s access to your organization.</p>'
          : '';
      res.type('html').send(
        layout(
          { base },
          'Connect Samsara',
          `${disconnected}<div class="card"><p>Connect your Samsara organization so this app can read its fleet. Samsara asks an administrator to approve; no password is shared with this app.</p>
<p><a class="button" id="connect" href="${escapeHTML(base)}/auth/samsara">Connect Samsara</a></p></div>`,
        ),
      );
      return;
    }
    // Fresh credentials: a token about to expire is refreshed first, a dead grant is a failure page.
    const creds = await tokens.credentials(user.orgId);
    const now = Date.now();
    const refreshedAt = user.tokenLifetime === undefined ? undefined : creds.expiresAt - user.tokenLifetime * 1000;
    const scopes = (creds.scope ?? '').split(/\s+/).filter(Boolean);
    const row = (label: string, value: string, id?: string): string =>
      `<dt>${label}</dt><dd${id ? ` id="${id}"` : ''}>${value}</dd>`;
    const body = `<section class="card" aria-labelledby="org-heading"><h2 id="org-heading">Organization</h2>
<dl id="org">${row('Name', `<strong>${escapeHTML(user.orgName)}</strong>`)}${row('Organization id', escapeHTML(user.orgId))}${row('Region', escapeHTML(regionOf(tokens.clientFor(creds))), 'region')}</dl></section>
<section class="card" aria-labelledby="grant-heading"><h2 id="grant-heading">Connection</h2>
<dl id="grant">${row('Access token expires', when(creds.expiresAt, now), 'expires')}${row('Last refreshed', refreshedAt === undefined ? 'not known' : when(refreshedAt, now), 'refreshed')}${row('Scopes', scopes.length ? scopes.map((s) => `<code>${escapeHTML(s)}</code>`).join(' ') : 'none reported', 'scopes')}</dl></section>
<p><a class="button" id="vehicles-link" href="${escapeHTML(base)}/vehicles">List vehicles</a></p>
<form method="post" action="${escapeHTML(base)}/disconnect"><button class="button danger" id="disconnect" type="submit">Disconnect</button></form>`;
    res.type('html').send(layout({ base }, 'Samsara connected', body));
  };
}

/** The Samsara cloud of the client that issued the organization's grant. */
function regionOf(client: OAuthClient): string {
  const base = client.endpoints.baseURL;
  if (base === REGION_BASE_URLS.us) return 'US (api.samsara.com)';
  if (base === REGION_BASE_URLS.eu) return 'EU (api.eu.samsara.com)';
  const host = new URL(base).host;
  return talksToEmulator(client) ? `Samsara emulator (${host})` : `Other: ${host}`;
}

/** A moment as "in 59 minutes" / "3 minutes ago", with the exact time for machines and tooltips. */
function when(at: number, now: number): string {
  const iso = new Date(at).toISOString();
  const ms = at - now;
  const span = duration(Math.abs(ms));
  return `<time datetime="${iso}" title="${iso}">${ms >= 0 ? `in ${span}` : `${span} ago`}</time>`;
}

function duration(ms: number): string {
  const units: Array<[string, number]> = [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1_000],
  ];
  for (const [unit, size] of units) {
    const n = Math.floor(ms / size);
    if (n >= 1) return `${n} ${unit}${n === 1 ? '' : 's'}`;
  }
  return 'less than a second';
}
