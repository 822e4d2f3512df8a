import { createHash } from 'node:crypto';
import { PKCE_VALUE } from './authorize.js';
import { oauthPost, required } from './oauth-post.js';
import type { EmulatorClient, Settings } from './options.js';
import { NO_STORE, Refusal, invalidGrant, json, oauthError, type Reply } from './replies.js';
import type { EmulatorRequest } from './request.js';
import { issueTokens, newGrant, type CodeRecord, type EmulatorState, type IssuedGrant } from './state.js';

// POST /oauth2/token: the authorization_code and refresh_token grants, with single-use codes bound
// to their redirect URI and PKCE challenge, and rotating single-use refresh tokens. A grant's scopes
// are fixed when it is made: a refresh carries them over, whatever the app's settings say since.

export function token(state: EmulatorState, settings: Settings, request: EmulatorRequest): Reply {
  const client = oauthPost(state, request);
  const grantType = required(request.form, 'grant_type');
  if (grantType === 'authorization_code') return tokenReply(state, exchangeCode(state, settings, client, request.form));
  if (grantType === 'refresh_token') return tokenReply(state, refresh(state, settings, client, request.form));
  throw new Refusal(oauthError(400, 'unsupported_grant_type', `grant_type ${grantType} is not supported.`));
}

function tokenReply(state: EmulatorState, issued: IssuedGrant): Reply {
  state.counters.tokensIssued++;
  return json(
    200,
    {
      access_token: issued.accessToken,
      token_type: 'Bearer',
      expires_in: issued.expiresIn,
      refresh_token: issued.refreshToken,
      scope: issued.scope,
    },
    NO_STORE,
  );
}

function exchangeCode(
  state: EmulatorState,
  settings: Settings,
  client: EmulatorClient,
  form: URLSearchParams,
): IssuedGrant {
  const record = state.codes.get(required(form, 'code'));
  if (!record || record.clientId !== client.clientId)
    throw invalidGrant('The authorization code is unknown or was issued to another client.');
  if (record.grant) {
    // RFC 6749 §4.1.2: a replayed code may have been stolen, so what it produced is revoked too.
    record.grant.revoked = true;
    throw invalidGrant('The authorization code was already used; the grant it produced is revoked.');
  }
  if (state.clock() >= record.expiresAt) throw invalidGrant('The authorization code has expired.');
  checkRedirectUri(settings, record, form.get('redirect_uri'));
  if (record.challenge !== undefined && !verifierMatches(record, form.get('code_verifier'))) {
    throw invalidGrant('code_verifier is missing or does not match the code_challenge.');
  }
  record.grant = newGrant(state, client.clientId, record.orgId);
  return issueTokens(state, settings, record.grant);
}

function refresh(state: EmulatorState, settings: Settings, client: EmulatorClient, form: URLSearchParams): IssuedGrant {
  const record = state.refreshTokens.get(required(form, 'refresh_token'));
  if (!record || record.grant.revoked || record.grant.clientId !== client.clientId) {
    throw invalidGrant('The refresh token is unknown, revoked, or was issued to another client.');
  }
  // Strictly less than the grace: with the default 0, a second use fails even within the same millisecond.
  if (record.rotatedAt !== undefined && !(state.clock() - record.rotatedAt < settings.refreshTokenReuseGrace)) {
    if (settings.revokeOnReuse) record.grant.revoked = true;
    throw invalidGrant('The refresh token was already used: each refresh token works once.');
  }
  record.rotatedAt ??= state.clock();
  return issueTokens(state, settings, record.grant);
}

/**
 * RFC 6749 §4.1.3 asks for the authorize request's redirect_uri again; Samsara does not (its own
 * samples leave it out), so a missing one fails only under `strictRedirectUri`. One that is sent
 * must name where the code went, even when the authorize request left it to the registered URL.
 */
function checkRedirectUri(settings: Settings, record: CodeRecord, given: string | null): void {
  if (given === null) {
    if (settings.strictRedirectUri && record.redirectUri !== undefined)
      throw invalidGrant('redirect_uri is required: the authorization request carried one (RFC 6749 §4.1.3).');
    return;
  }
  if (given !== record.deliveredTo)
    throw invalidGrant('redirect_uri differs from the one the authorization code was sent to.');
}

function verifierMatches(record: CodeRecord, verifier: string | null): boolean {
  if (verifier === null || !PKCE_VALUE.test(verifier)) return false;
  const derived =
    record.challengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
  return derived === record.challenge;
}
