import type { RequestHandler } from 'express';
import type { TokenManager } from '../tokens/manager.js';
import type { SamsaraWebhookEvent } from '../webhooks/event-types.js';
import type { SamsaraWebhookHandler, SamsaraWebhookHandlers } from '../webhooks/receiver-options.js';
import { samsaraWebhooks } from '../webhooks/receiver.js';
import { escapeHTML } from './html.js';

/** Events kept per organization, newest first. */
const PER_ORGANIZATION = 10;
/** Organizations kept; past it, the one that heard least recently is dropped. */
const ORGANIZATIONS = 1000;

/** What the home page shows of an event: never its data, which may be the customer's. */
interface Shown {
  eventId: string;
  eventType: string;
  eventTime: string;
}

/**
 * The latest events of each organization, in this process's memory, bounded: what the home page
 * shows so that an admin sees their organization's events arrive. A fleet's processes each see
 * the deliveries they received.
 */
export class RecentEvents {
  readonly #byOrg = new Map<string, Shown[]>();

  add(event: SamsaraWebhookEvent): void {
    const orgId = String(event.orgId);
    const list = this.#byOrg.get(orgId) ?? [];
    // Re-inserted: the Map's order is then the order organizations last heard something.
    this.#byOrg.delete(orgId);
    this.#byOrg.set(
      orgId,
      [
        { eventId: event.eventId, eventType: event.eventType, eventTime: event.eventTime },
        ...list.filter((shown) => shown.eventId !== event.eventId),
      ].slice(0, PER_ORGANIZATION),
    );
    for (const oldest of this.#byOrg.keys()) {
      if (this.#byOrg.size <= ORGANIZATIONS) break;
      this.#byOrg.delete(oldest);
    }
  }

  /** The home page's section of the organization's latest events. */
  section(orgId: string): string {
    const list = this.#byOrg.get(orgId) ?? [];
    const items = list
      .map(
        (shown) =>
          `<li><code>${escapeHTML(shown.eventType)}</code> <time datetime="${escapeHTML(shown.eventTime)}">${escapeHTML(shown.eventTime)}</time></li>`,
      )
      .join('');
    const body = items
      ? `<ol id="events">${items}</ol><p class="hint">Newest first; reload the page to see later ones.</p>`
      : '<p class="hint" id="no-events">None yet: Samsara sends your organization’s events here as they happen.</p>';
    return `<section class="card" aria-labelledby="events-heading"><h2 id="events-heading">Latest events</h2>${body}</section>`;
  }
}

/**
 * The app's webhook receiver (`POST /webhooks`), when the manager keeps the organizations'
 * webhooks: every event is kept for the home page, then handed to the host's own handlers.
 */
export function appWebhooks(
  tokens: TokenManager,
  recent: RecentEvents,
  handlers: SamsaraWebhookHandlers = {},
): RequestHandler {
  const keeping =
    (handler: SamsaraWebhookHandler): SamsaraWebhookHandler =>
    (event, req) => {
      recent.add(event);
      return handler(event, req);
    };
  const wrapped = Object.fromEntries(
    Object.entries(handlers).map(([type, handler]) => [type, keeping(handler as SamsaraWebhookHandler)]),
  ) as SamsaraWebhookHandlers;
  return samsaraWebhooks({ tokens, handlers: { default: keeping(() => undefined), ...wrapped } });
}
