import { randomBytes } from 'node:crypto';
import { apiWindows, bearerGrant, withoutTrailingSlashes } from './api.js';
import { READ_WEBHOOKS_SCOPE, SCOPE_LABELS, WRITE_WEBHOOKS_SCOPE } from './directory.js';
import type { Settings } from './options.js';
import { throttle } from './rate-limit.js';
import { Refusal, apiError, json, type Reply } from './replies.js';
import type { EmulatorRequest } from './request.js';
import type { EmulatorState, Grant } from './state.js';
import { createdFields, patchedFields, type EmulatedWebhook, type WebhookFields } from './webhook-fields.js';

// GET, POST /webhooks and GET, PATCH, DELETE /webhooks/{id}: an organization's webhooks, seen and
// changed with its own token (every app of the organization sees them all, dashboard ones too),
// within Samsara's limits: 5 reads a second and 100 writes a minute per organization. The checks
// run as on the other API endpoints: route, method, token, rate limits, scope, then the body.

const MAX_PAGE = 512;
/** An emulator bound: Samsara documents none. */
const MAX_WEBHOOKS = 100;
/** Samsara's webhook ids are long strings of digits. */
const FIRST_ID = 1_411_751_028_848_270;

/** Whether the path is one of the webhooks endpoints' (or a 404 among them). */
export function isWebhooksPath(pathname: string): boolean {
  return pathname === '/webhooks' || pathname.startsWith('/webhooks/');
}

export function webhooksApi(state: EmulatorState, settings: Settings, request: EmulatorRequest): Reply {
  const path = withoutTrailingSlashes(request.url.pathname);
  const id = path === '/webhooks' ? null : /^\/webhooks\/([^/]+)$/.exec(path)?.[1];
  if (id === undefined) throw new Refusal(apiError(404, `No such endpoint: ${path}.`));
  const allowed = id === null ? ['GET', 'POST'] : ['GET', 'PATCH', 'DELETE'];
  if (!allowed.includes(request.method)) {
    throw new Refusal(apiError(405, `${request.method} is not allowed here.`, { allow: allowed.join(', ') }));
  }
  const { grant, accessToken } = bearerGrant(state, request);
  const write = request.method !== 'GET';
  const orgId = grant.orgId;
  throttle(state, [
    ...apiWindows(settings, grant, accessToken),
    write
      ? {
          key: `webhooks-write:${orgId}`,
          limit: 100,
          periodMs: 60_000,
          what: 'webhook writes in this organization',
          kind: 'endpoint',
        }
      : { key: `webhooks-read:${orgId}`, limit: 5, what: 'GET /webhooks in this organization', kind: 'endpoint' },
  ]);
  requireScope(state, grant, write ? WRITE_WEBHOOKS_SCOPE : READ_WEBHOOKS_SCOPE);
  if (id === null) return request.method === 'GET' ? list(state, orgId, request.url) : create(state, orgId, request);
  const webhook = state.webhooks.get(id);
  if (webhook?.orgId !== orgId) throw new Refusal(apiError(404, 'No webhook with this id in your organization.'));
  if (request.method === 'GET') return json(200, shown(webhook));
  if (request.method === 'PATCH') {
    Object.assign(webhook, patchedFields(webhook, bodyOf(request)));
    return json(200, shown(webhook));
  }
  state.webhooks.delete(id);
  return { status: 204, headers: {}, body: '' };
}

/**
 * Adds a webhook to an organization, as `POST /webhooks` does; `fields` are checked as that
 * endpoint checks them (a `Refusal` when they fail).
 */
export function addWebhook(state: EmulatorState, orgId: string, fields: unknown): EmulatedWebhook {
  const checked: WebhookFields = createdFields(fields);
  const count = [...state.webhooks.values()].filter((webhook) => webhook.orgId === orgId).length;
  if (count >= MAX_WEBHOOKS) {
    throw new Refusal(apiError(400, `The emulator keeps at most ${MAX_WEBHOOKS} webhooks per organization.`));
  }
  const id = String(FIRST_ID + state.webhooksCreated++);
  const webhook: EmulatedWebhook = { id, orgId, ...checked, secretKey: randomBytes(24).toString('base64') };
  state.webhooks.set(id, webhook);
  return webhook;
}

/** A webhook as the API shows it. */
export function shown(webhook: EmulatedWebhook): Omit<EmulatedWebhook, 'orgId'> {
  const { id, name, url, version, eventTypes, customHeaders, secretKey } = webhook;
  return {
    id,
    name,
    url,
    version,
    eventTypes: [...eventTypes],
    customHeaders: customHeaders.map((h) => ({ ...h })),
    secretKey,
  };
}

function create(state: EmulatorState, orgId: string, request: EmulatorRequest): Reply {
  return json(200, shown(addWebhook(state, orgId, bodyOf(request))));
}

/** One page of the organization's webhooks, oldest first; the cursor names the last one given. */
function list(state: EmulatorState, orgId: string, url: URL): Reply {
  const limitParam = url.searchParams.get('limit');
  const limit = limitParam === null ? MAX_PAGE : /^\d+$/.test(limitParam) ? Number(limitParam) : NaN;
  if (!(limit >= 1 && limit <= MAX_PAGE)) {
    throw new Refusal(apiError(400, `limit must be a whole number from 1 to ${MAX_PAGE}.`));
  }
  const ids = url.searchParams.get('ids')?.split(',').filter(Boolean);
  const after = afterOf(url.searchParams.get('after'));
  // Ids grow with every webhook created, so "after the last one given" survives deletions.
  const selected = [...state.webhooks.values()].filter(
    (webhook) => webhook.orgId === orgId && (!ids || ids.includes(webhook.id)) && Number(webhook.id) > after,
  );
  const page = selected.slice(0, limit);
  const hasNextPage = selected.length > limit;
  const last = page.at(-1);
  return json(200, {
    data: page.map(shown),
    pagination: { endCursor: hasNextPage && last ? cursorOf(last.id) : '', hasNextPage },
  });
}

function cursorOf(id: string): string {
  return Buffer.from(`webhooks:${id}`).toString('base64url');
}

/** The id a cursor names (0: no cursor); a 400 for anything this endpoint did not hand out. */
function afterOf(cursor: string | null): number {
  if (!cursor) return 0;
  const id = /^[\w-]+$/.test(cursor)
    ? /^webhooks:(\d{1,16})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'))?.[1]
    : undefined;
  if (id === undefined) throw new Refusal(apiError(400, 'after is not a cursor this endpoint handed out.'));
  return Number(id);
}

function requireScope(state: EmulatorState, grant: Grant, scope: string): void {
  if (grant.scopes.includes(scope)) return;
  state.counters.forbidden++;
  throw new Refusal(apiError(403, `The app lacks the ${SCOPE_LABELS[scope]} scope (${scope}) for this organization.`));
}

function bodyOf(request: EmulatorRequest): unknown {
  try {
    return JSON.parse(request.body) as unknown;
  } catch {
    throw new Refusal(apiError(400, 'The request body must be JSON.'));
  }
}
