import { oauthPost, required } from './oauth-post.js';
import type { Settings } from './options.js';
import { NO_STORE, invalidGrant, json, type Reply } from './replies.js';
import type { EmulatorRequest } from './request.js';
import { grantOf, revokeFrom, type EmulatorState } from './state.js';

/**
 * POST /oauth2/revoke (RFC 7009), with Basic client auth and `token=<access or refresh token>`.
 * What it reaches, one grant or the organization's, is the `revocation` setting.
 */
export function revoke(state: EmulatorState, settings: Settings, request: EmulatorRequest): Reply {
  const client = oauthPost(state, request);
  const presented = required(request.form, 'token');
  // token_type_hint is only a hint (RFC 7009 §2.1): both kinds are searched anyway.
  const grant = grantOf(state, presented);
  if (grant && grant.clientId !== client.clientId) throw invalidGrant('The token was issued to another client.');
  // A dead grant's token identifies nothing live, so it reaches nothing, even organization-wide.
  // So does a spent one (strict reading): a refresh token rotated out past the grace, or an
  // expired access token, is no longer a valid token, and RFC 7009 §2.2 lets the server ignore it.
  // A client must revoke with the newest token it holds.
  if (grant && !grant.revoked && stillValid(state, settings, presented)) revokeFrom(state, settings, grant);
  // RFC 7009 §2.2: an unknown or already revoked token is no error.
  return json(200, {}, NO_STORE);
}

function stillValid(state: EmulatorState, settings: Settings, token: string): boolean {
  const refresh = state.refreshTokens.get(token);
  if (refresh)
    return refresh.rotatedAt === undefined || state.clock() - refresh.rotatedAt < settings.refreshTokenReuseGrace;
  const access = state.accessTokens.get(token);
  return access !== undefined && state.clock() < access.expiresAt;
}
