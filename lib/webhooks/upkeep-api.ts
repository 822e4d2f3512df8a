import { callSamsara, type SamsaraApiTokens } from '../api.js';
import { BadResponseError, WebhookUpkeepError } from '../errors/index.js';
import type { Clock } from '../tokens/clock.js';
import type { TokenStore } from '../tokens/store.js';

// The calls to Samsara's /webhooks that keeping an organization's webhook makes, with the
// organization's own token. Every write first takes a slot of the organization's write budget.

/** A webhook as `GET /webhooks` shows it, the fields upkeep reads. */
export interface LiveWebhook {
  id: string;
  name: string;
  url: string;
  version: string;
  eventTypes: string[];
  /** Absent if Samsara ever stops showing it: the webhook is then made again to learn one. */
  secretKey?: string;
}

/** What upkeep sets on a webhook. */
export type WebhookSettings = Pick<LiveWebhook, 'name' | 'url' | 'version' | 'eventTypes'>;

/**
 * Samsara allows 100 webhook writes (create, update, delete) a minute per organization, every app
 * of it together. One write per slot of this length, across the fleet, keeps to 93 in any minute: room
 * for processes whose clocks differ by a little and for the app's other writes.
 */
export const WRITE_SLOT_MS = 650;

/** Pages of `GET /webhooks` read at most (512 each): an organization keeps far fewer. */
const MAX_PAGES = 10;

/** `/webhooks` for the organizations of one manager. */
export class WebhooksApi {
  constructor(
    private readonly tokens: SamsaraApiTokens,
    private readonly store: Required<Pick<TokenStore, 'claim'>>,
    private readonly clock: Pick<Clock, 'now' | 'sleep'>,
  ) {}

  /** Every webhook of the organization (every app's and the dashboard's too). */
  async list(orgId: string): Promise<LiveWebhook[]> {
    const found: LiveWebhook[] = [];
    let after = '';
    for (let page = 0; page < MAX_PAGES; page++) {
      const query = after === '' ? '' : `&after=${encodeURIComponent(after)}`;
      const body = (await this.#call(orgId, 'GET', `/webhooks?limit=512${query}`)) as {
        data?: unknown;
        pagination?: { endCursor?: unknown; hasNextPage?: unknown };
      };
      if (!Array.isArray(body.data)) throw shapeError('GET /webhooks');
      found.push(...body.data.map((item: unknown) => webhookOf(item, 'GET /webhooks')));
      const next = body.pagination?.endCursor;
      if (body.pagination?.hasNextPage !== true || typeof next !== 'string' || next === '') break;
      after = next;
    }
    return found;
  }

  async create(orgId: string, settings: WebhookSettings): Promise<LiveWebhook> {
    await this.#writeSlot(orgId);
    return webhookOf(await this.#call(orgId, 'POST', '/webhooks', settings), 'POST /webhooks');
  }

  /** `PATCH` replaces arrays whole: `eventTypes` is sent in full. */
  async update(orgId: string, id: string, settings: Partial<WebhookSettings>): Promise<LiveWebhook> {
    await this.#writeSlot(orgId);
    return webhookOf(await this.#call(orgId, 'PATCH', `/webhooks/${encodeURIComponent(id)}`, settings), 'PATCH');
  }

  /** Deletes one webhook; one that is already gone (404) counts as deleted. */
  async remove(orgId: string, id: string): Promise<void> {
    await this.#writeSlot(orgId);
    await this.#call(orgId, 'DELETE', `/webhooks/${encodeURIComponent(id)}`, undefined, [404]);
  }

  /**
   * Waits for a free slot of the organization's write budget, claimed in the store so that every
   * process sharing it counts together.
   */
  async #writeSlot(orgId: string): Promise<void> {
    for (;;) {
      const slot = Math.floor(this.clock.now() / WRITE_SLOT_MS);
      const taken = await this.store.claim(`webhook-write:${orgId}:${slot}`, 2 * WRITE_SLOT_MS);
      if (taken.claim) return;
      await this.clock.sleep((slot + 1) * WRITE_SLOT_MS - this.clock.now() + Math.random() * 20);
    }
  }

  async #call(orgId: string, method: string, path: string, body?: unknown, alsoFine: number[] = []): Promise<unknown> {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'content-type': 'application/json' };
    }
    const response = await callSamsara(this.tokens, orgId, path, init);
    const what = `${method} ${path.replace(/\?.*$/, '')}`;
    if (response.ok || alsoFine.includes(response.status)) {
      if (method === 'DELETE' || response.status === 204) {
        await response.body?.cancel().catch(() => undefined);
        return undefined;
      }
      try {
        return await response.json();
      } catch (err) {
        throw new BadResponseError(`Samsara answered ${what} with a body that is not JSON.`, { cause: err });
      }
    }
    const message = await samsaraMessage(response);
    if (response.status === 403) {
      throw new WebhookUpkeepError(
        `Samsara refused ${what} for organization ${orgId} (403: ${message}): the app needs the Read Webhooks and Write Webhooks scopes. Add them in the app's settings in the Samsara dashboard; the organization's admin must then connect again.`,
        { code: 'SAMSARA_WEBHOOK_SCOPE' },
      );
    }
    throw new WebhookUpkeepError(
      `Samsara answered ${what} for organization ${orgId} with ${response.status}: ${message}`,
      { code: 'SAMSARA_WEBHOOK_UPKEEP' },
    );
  }
}

/** Samsara's own message (`{ message }`, or the text of a 5xx), one line, bounded. */
async function samsaraMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  let message = text;
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // A 5xx body is text, not JSON: shown as it is.
  }
  return message.replace(/\s+/g, ' ').trim().slice(0, 200) || '(no message)';
}

function webhookOf(item: unknown, what: string): LiveWebhook {
  const fields = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
  const { id, name, url, version, eventTypes, secretKey } = fields;
  if (typeof id !== 'string' || typeof name !== 'string' || typeof url !== 'string') throw shapeError(what);
  return {
    id,
    name,
    url,
    version: typeof version === 'string' ? version : '',
    eventTypes: Array.isArray(eventTypes) ? eventTypes.filter((t): t is string => typeof t === 'string') : [],
    ...(typeof secretKey === 'string' && secretKey !== '' && { secretKey }),
  };
}

function shapeError(what: string): BadResponseError {
  return new BadResponseError(`Samsara answered ${what} with a body that is not the webhook shape.`);
}
