import type { RequestHandler } from 'express';
import { REGION_BASE_URLS } from '../endpoints.js';
import type { OAuthClient } from '../oauth-client.js';
import type { TokenManager } from '../tokens/manager.js';
import { servedOf } from './account.js';
import type { RecentEvents } from './events.js';
import { AppFailure } from './failure-kinds.js';
import { escapeHTML, layout, type PageContext } from './html.js';
import type { Brand } from './brand.js';
import { talksToEmulator } from './options.js';

/** Home: Connect, or what a customer's admin needs to know: connected, which organization, since when. */
export function homePage(
  tokens: TokenManager,
  brand: Brand,
  withAccount: boolean,
  recent: RecentEvents | undefined,
): RequestHandler {
  return async (req, res) => {
    const context: PageContext = { base: req.baseUrl, brand };
    const base = escapeHTML(context.base);
    const product = escapeHTML(brand.product ?? 'this app');
    res.set('Cache-Control', 'no-store');
    if (withAccount && servedOf(req).accountId === undefined) throw new AppFailure('signed-out');
    const { connection } = servedOf(req);
    if (!connection) {
      const notice =
        req.query.disconnected === '1'
          ? `<p class="notice" id="disconnected" role="status">Disconnected: Samsara revoked ${product}’s access to your organization.</p>`
          : req.query['signed-out'] === '1'
            ? '<p class="notice" id="signed-out" role="status">Signed out. Your organization stays connected for everyone else who uses it.</p>'
            : '';
      res.type('html').send(
        layout(
          context,
          'Connect Samsara',
          `${notice}<div class="card"><p>Connect your company’s Samsara organization so ${product} can read its fleet. Samsara asks an administrator to approve; no password is shared with ${product}.</p>
<p><a class="button" id="connect" href="${base}/auth/samsara">Connect Samsara</a></p></div>`,
        ),
      );
      return;
    }
    // Fresh credentials: a token about to expire is refreshed first, a dead grant is a failure page.
    const creds = await tokens.credentials(connection.orgId);
    const now = Date.now();
    const lifetime = connection.tokenLifetime;
    const refreshedAt = lifetime === undefined ? undefined : creds.expiresAt - lifetime * 1000;
    const scopes = (creds.scope ?? '').split(/\s+/).filter(Boolean);
    const row = (label: string, value: string, id?: string): string =>
      `<dt>${label}</dt><dd${id ? ` id="${id}"` : ''}>${value}</dd>`;
    const name = escapeHTML(connection.orgName);
    const signOut = withAccount
      ? ''
      : `<form method="post" action="${base}/sign-out"><button class="button secondary" id="sign-out" type="submit">Sign out</button></form>`;
    const body = `<section class="card" aria-labelledby="org-heading"><p class="status" id="status">Connected</p>
<h2 id="org-heading">Your Samsara organization</h2>
<dl id="org">${row('Organization', `<strong>${name}</strong>`)}${row('Organization id', escapeHTML(connection.orgId))}${row('Connected', connection.connectedAt > 0 ? when(connection.connectedAt, now) : 'not known', 'since')}</dl>
<details id="details"><summary>Connection details</summary>
<dl id="grant">${row('Region', escapeHTML(regionOf(tokens.clientFor(creds))), 'region')}${row('Access token expires', when(creds.expiresAt, now), 'expires')}${row('Last refreshed', refreshedAt === undefined ? 'not known' : when(refreshedAt, now), 'refreshed')}${row('Scopes', scopes.length ? scopes.map((s) => `<code>${escapeHTML(s)}</code>`).join(' ') : 'none reported', 'scopes')}</dl></details></section>
<p><a class="button" id="vehicles-link" href="${base}/vehicles">List vehicles</a></p>${recent?.section(connection.orgId) ?? ''}
<section class="card" aria-labelledby="manage-heading"><h2 id="manage-heading">Manage</h2>
<div class="actions">${signOut}<a class="button danger" id="disconnect" href="${base}/disconnect">Disconnect…</a></div>
${withAccount ? '' : `<p class="hint"><strong>Sign out</strong> ends your session in this browser; the connection stays for everyone at ${name}.</p>`}
<p class="hint"><strong>Disconnect</strong> revokes ${product}’s access to ${name} in Samsara, for everyone.</p></section>`;
    res.type('html').send(layout(context, 'Samsara', body));
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
