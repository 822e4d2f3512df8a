import type { EmulatorClient } from './options.js';
import { Refusal, oauthError } from './replies.js';
import type { EmulatorRequest } from './request.js';
import type { EmulatorState } from './state.js';

// What the token and revoke endpoints check before reading the form: method, content type, client
// authentication and repeated parameters.

const BASIC_CHALLENGE = { 'www-authenticate': 'Basic realm="samsara"' };

/** The authenticated client of a well-formed token or revoke request; refuses anything else. */
export function oauthPost(state: EmulatorState, request: EmulatorRequest): EmulatorClient {
  if (request.method !== 'POST') throw new Refusal(oauthError(405, 'invalid_request', 'Use POST.', { allow: 'POST' }));
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(request.headers['content-type'] ?? '')) {
    throw new Refusal(oauthError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded.'));
  }
  const client = authenticate(state, request);
  const repeated = firstRepeated(request.form);
  if (repeated) throw new Refusal(oauthError(400, 'invalid_request', `${repeated} is repeated.`));
  return client;
}

/** RFC 6749 §2.3.1: HTTP Basic with the form-urlencoded id and secret, and no other method at once. */
function authenticate(state: EmulatorState, request: EmulatorRequest): EmulatorClient {
  const { form } = request;
  const credentials = basicCredentials(request.headers.authorization);
  const client = credentials && state.clients.get(credentials.id);
  if (!credentials || !client || client.clientSecret !== credentials.secret) {
    throw new Refusal(
      oauthError(
        401,
        'invalid_client',
        'Client authentication failed: send the client id and secret with HTTP Basic.',
        BASIC_CHALLENGE,
      ),
    );
  }
  if (form.has('client_secret') || (form.has('client_id') && form.get('client_id') !== client.clientId)) {
    throw new Refusal(
      oauthError(400, 'invalid_request', 'The request uses more than one client authentication method.'),
    );
  }
  return client;
}

function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const encoded = /^Basic +([A-Za-z0-9+/]+={0,2})$/i.exec(header ?? '')?.[1];
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const id = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  return id === undefined || secret === undefined ? undefined : { id, secret };
}

/** application/x-www-form-urlencoded decoding of one value; undefined when malformed. */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** RFC 6749 §3.1: parameters must not be sent twice; the name of the first one that is. */
export function firstRepeated(params: URLSearchParams): string | undefined {
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return undefined;
}

export function required(form: URLSearchParams, name: string): string {
  const value = form.get(name);
  if (!value) throw new Refusal(oauthError(400, 'invalid_request', `${name} is required.`));
  return value;
}
