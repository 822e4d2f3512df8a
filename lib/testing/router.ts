import { api } from './api.js';
import { authorize } from './authorize.js';
import type { EmulatorEndpoint } from './faults.js';
import type { Settings } from './options.js';
import { Refusal, apiError, type Reply } from './replies.js';
import type { EmulatorRequest } from './request.js';
import { revoke } from './revoke.js';
import type { EmulatorState } from './state.js';
import { token } from './token.js';
import { isWebhooksPath, webhooksApi } from './webhooks.js';

/** Which endpoint a path belongs to, for faults and counters; undefined: none (a 404). */
export function endpointOf(pathname: string): EmulatorEndpoint | undefined {
  if (pathname === '/oauth2/authorize') return 'authorize';
  if (pathname === '/oauth2/token') return 'token';
  if (pathname === '/oauth2/revoke') return 'revoke';
  if (pathname === '/me' || pathname === '/me/' || pathname.startsWith('/fleet/') || isWebhooksPath(pathname))
    return 'api';
  return undefined;
}

const HANDLERS: Record<
  EmulatorEndpoint,
  (state: EmulatorState, settings: Settings, request: EmulatorRequest) => Reply
> = {
  authorize,
  token,
  revoke,
  api: (state, settings, request) =>
    (isWebhooksPath(request.url.pathname) ? webhooksApi : api)(state, settings, request),
};

/**
 * The reply of the endpoint the request's path names. A refusal is a reply like any other; any
 * other exception is the emulator's own bug, left for the pipeline to answer with a 500.
 */
export function handle(state: EmulatorState, settings: Settings, request: EmulatorRequest): Reply {
  const endpoint = endpointOf(request.url.pathname);
  try {
    if (endpoint === undefined) throw new Refusal(apiError(404, `No such endpoint: ${request.url.pathname}.`));
    return HANDLERS[endpoint](state, settings, request);
  } catch (err) {
    if (err instanceof Refusal) return err.reply;
    throw err;
  }
}
