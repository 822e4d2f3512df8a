import { consentPage } from './consent-page.js';
import { firstRepeated } from './oauth-post.js';
import type { EmulatorClient, Settings } from './options.js';
import { NO_STORE, Refusal, htmlError, redirect, type Reply } from './replies.js';
import type { EmulatorRequest } from './request.js';
import { randomToken, type EmulatorState } from './state.js';

// GET /oauth2/authorize (the consent page, or a code at once with autoApprove) and POST
// /oauth2/authorize (the consent form's Allow or Deny).

/** RFC 7636 §4.1: the verifier's (and an S256 challenge's) alphabet and length. */
export const PKCE_VALUE = /^[A-Za-z0-9\-._~]{43,128}$/;

export function authorize(state: EmulatorState, settings: Settings, request: EmulatorRequest): Reply {
  const { method } = request;
  if (method !== 'GET' && method !== 'POST')
    throw new Refusal(htmlError(405, 'Use GET or POST.', { allow: 'GET, POST' }));
  const params = method === 'POST' ? request.form : request.url.searchParams;
  // Until client and redirect URI are known good, every failure is a page here, never a
  // redirect: an authorize endpoint that redirects anywhere it is told is an open redirect.
  for (const name of ['client_id', 'redirect_uri']) {
    if (params.getAll(name).length > 1) throw new Refusal(htmlError(400, `${name} is repeated.`));
  }
  const client = state.clients.get(params.get('client_id') ?? '');
  if (!client) throw new Refusal(htmlError(400, 'Unknown client_id: no app with this id is registered.'));
  const redirectUri = redirectTarget(client, params.get('redirect_uri'));
  const stateParam = params.get('state');
  const back = (result: Record<string, string>): Reply =>
    redirect(redirectUri, stateParam === null ? result : { ...result, state: stateParam });

  const repeated = firstRepeated(params);
  if (repeated) return back({ error: 'invalid_request', error_description: `${repeated} is repeated.` });
  const responseType = params.get('response_type');
  if (responseType === null) return back({ error: 'invalid_request', error_description: 'response_type is required.' });
  if (responseType !== 'code')
    return back({ error: 'unsupported_response_type', error_description: 'Only response_type=code is supported.' });
  const challenge = params.get('code_challenge');
  const challengeMethod = params.get('code_challenge_method') ?? 'plain';
  if (challenge !== null && challengeMethod !== 'S256' && challengeMethod !== 'plain') {
    return back({ error: 'invalid_request', error_description: 'code_challenge_method must be S256 or plain.' });
  }
  if (challenge !== null && !PKCE_VALUE.test(challenge)) {
    return back({
      error: 'invalid_request',
      error_description: 'code_challenge must be 43 to 128 unreserved characters.',
    });
  }

  if (method === 'POST') {
    if (params.get('decision') !== 'allow')
      return back({ error: 'access_denied', error_description: 'The user denied access' });
    return back({ code: newCode(state, client, params, redirectUri, params.get('org_id') ?? state.firstOrg.id) });
  }
  if (settings.autoApprove !== false) {
    const orgId = settings.autoApprove === true ? state.firstOrg.id : settings.autoApprove;
    return back({ code: newCode(state, client, params, redirectUri, orgId) });
  }
  const scopes = state.clientScopes.get(client.clientId) ?? [];
  return {
    status: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', ...NO_STORE },
    body: consentPage(params, client, scopes, [...state.orgs.values()]),
  };
}

function redirectTarget(client: EmulatorClient, given: string | null): string {
  if (given === null) {
    if (client.redirectUris?.length === 1) return client.redirectUris[0];
    throw new Refusal(
      htmlError(400, 'redirect_uri is missing, and the app does not have exactly one registered redirect URL.'),
    );
  }
  const allowed = client.redirectUris ? client.redirectUris.includes(given) : isLoopbackHttpURL(given);
  if (!allowed) throw new Refusal(htmlError(400, 'redirect_uri is not registered for this app.'));
  return given;
}

function newCode(
  state: EmulatorState,
  client: EmulatorClient,
  params: URLSearchParams,
  deliveredTo: string,
  orgId: string,
): string {
  if (!state.orgs.has(orgId)) throw new Refusal(htmlError(400, 'Unknown organization.'));
  const code = randomToken();
  const challenge = params.get('code_challenge') ?? undefined;
  state.codes.set(code, {
    clientId: client.clientId,
    orgId,
    redirectUri: params.get('redirect_uri') ?? undefined,
    deliveredTo,
    challenge,
    challengeMethod: params.get('code_challenge_method') === 'S256' ? 'S256' : 'plain',
    expiresAt: state.clock() + state.codeTtl * 1000,
    grant: undefined,
  });
  return code;
}

/** RFC 8252 §7.3 loopback redirects: plain http, any port; no fragment (RFC 6749 §3.1.2) and no userinfo. */
function isLoopbackHttpURL(value: string): boolean {
  if (!URL.canParse(value) || value.includes('#')) return false;
  const url = new URL(value);
  const loopback =
    url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  return url.protocol === 'http:' && loopback && url.username === '' && url.password === '';
}
