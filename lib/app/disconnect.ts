import type { RequestHandler } from 'express';
import { samsaraDisconnect, samsaraSignOut } from '../sign-out.js';
import { crossSiteRequest, fromOwnPage } from '../same-origin.js';
import type { TokenManager } from '../tokens/manager.js';
import { servedOf, type SamsaraAppAccount } from './account.js';
import type { Brand } from './brand.js';
import { AppFailure } from './failure-kinds.js';
import { escapeHTML, layout } from './html.js';

/** What the app's Disconnect and sign-out need besides the request. */
export interface LeaveSettings {
  tokens: TokenManager;
  brand: Brand;
  account: SamsaraAppAccount | undefined;
  trustedOrigins: readonly string[];
  /** The app's session cookie (its name follows the mount). */
  cookieName: () => string;
}

/**
 * `GET /disconnect`: Disconnect ends the organization's access for every one of its users, so it
 * asks first, on a page of its own that says what will happen; its button posts `POST /disconnect`.
 */
export function confirmDisconnectPage(settings: LeaveSettings): RequestHandler {
  return (req, res) => {
    const base = escapeHTML(req.baseUrl);
    const { connection, accountId } = servedOf(req);
    if (settings.account && accountId === undefined) throw new AppFailure('signed-out');
    if (!connection) {
      res.redirect(303, `${req.baseUrl}/`);
      return;
    }
    const name = escapeHTML(connection.orgName);
    const product = escapeHTML(settings.brand.product ?? 'this app');
    const body = `<div class="card"><p>Disconnecting revokes ${product}’s access to <strong>${name}</strong> in Samsara, for everyone at your company who uses ${product}, not only you. Its vehicles and other data stop being read; nothing in Samsara itself is deleted.</p>
<p>To end only your own session, go back and ${settings.account ? 'sign out of your account instead' : 'choose Sign out instead'}. You can connect again at any time.</p>
<div class="actions"><form method="post" action="${base}/disconnect"><button class="button danger" id="confirm-disconnect" type="submit">Disconnect ${name}</button></form>
<a class="button secondary" id="cancel" href="${base}/">Cancel</a></div></div>`;
    res.set('Cache-Control', 'no-store');
    res
      .type('html')
      .send(layout({ base: req.baseUrl, brand: settings.brand }, `Disconnect ${connection.orgName}?`, body));
  };
}

/**
 * `POST /disconnect`: every grant of the organization revoked (`onDisconnect` is told), then, in
 * the app's own session, signed out; with `account`, your account told and its user left signed
 * in. Only from the app's own pages (`CrossSiteRequestError` otherwise).
 */
export function disconnect(settings: LeaveSettings): RequestHandler {
  const { tokens, account, trustedOrigins } = settings;
  const trusted = new Set(trustedOrigins);
  return (req, res, next) => {
    const { connection, accountId } = servedOf(req);
    const redirect = `${req.baseUrl}/?disconnected=1`;
    if (!account) {
      const key = (): string | undefined => connection?.orgId;
      samsaraDisconnect({ tokens, key, redirect, cookieName: settings.cookieName(), trustedOrigins })(req, res, next);
      return;
    }
    if (!fromOwnPage(req, trusted)) {
      next(crossSiteRequest('Disconnect'));
      return;
    }
    if (accountId === undefined) {
      next(new AppFailure('signed-out'));
      return;
    }
    if (!connection) {
      res.redirect(303, `${req.baseUrl}/`);
      return;
    }
    // A revoke that fails leaves the account connected: the grant still works, and a retry can end it.
    tokens
      .revoke(connection.orgId)
      .then(() => account.disconnect(accountId, connection))
      .then(() => res.redirect(303, redirect), next);
  };
}

/** `POST /sign-out` (the app's own sessions): the session ends, the organization stays connected. */
export function signOut(settings: LeaveSettings): RequestHandler {
  return (req, res, next) => {
    samsaraSignOut({
      redirect: `${req.baseUrl}/?signed-out=1`,
      cookieName: settings.cookieName(),
      trustedOrigins: settings.trustedOrigins,
    })(req, res, next);
  };
}
