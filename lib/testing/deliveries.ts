import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SAMSARA_WEBHOOK_EVENT_TYPES } from '../webhooks/event-types.js';
import type { Settings } from './options.js';
import type { EmulatorState } from './state.js';
import { isLoopback, type EmulatedWebhook } from './webhook-fields.js';
import { signSamsaraWebhook } from './webhook-signer.js';

// Webhook deliveries, as Samsara makes them: a POST of the event's webhooks 2.0 envelope to each
// subscribed webhook's URL, signed with its secret, retried on a non-2xx answer, a timeout or a
// network failure. Samsara documents neither its retries nor its timeout, so both are settings
// (`webhookRetryDelays`, `webhookTimeout`). Each attempt is signed anew, at its own time; every
// attempt of one event carries the same eventId. Deliveries go to loopback URLs only: the emulator
// never sends a request off this machine.

/**
 * One POST of a delivery.
 *
 * @example
 * ```ts
 * const [first]: WebhookAttempt[] = delivery.attempts;
 * expect(first.status).to.equal(500);
 * ```
 */
export interface WebhookAttempt {
  /** When it was sent, on the emulator's clock (ms). */
  at: number;
  durationMs: number;
  /** The receiver's status, when it answered. */
  status?: number;
  /** Why there was no answer: `timeout` (past `webhookTimeout`), `network`, or `stopped` (the emulator stopped). */
  error?: 'timeout' | 'network' | 'stopped';
}

/**
 * One event's delivery to one webhook, attempt by attempt.
 *
 * @example
 * ```ts
 * const [delivery]: WebhookDelivery[] = await samsara.emitEvent('1001', 'VehicleCreated', { vehicle }).settled;
 * expect(delivery.outcome).to.equal('delivered');
 * ```
 */
export interface WebhookDelivery {
  eventId: string;
  eventType: string;
  orgId: string;
  webhookId: string;
  /** The URL of the last attempt (a PATCH between retries moves the next one). */
  url: string;
  /** The webhooks 2.0 envelope sent. */
  payload: {
    eventId: string;
    eventTime: string;
    eventType: string;
    orgId: number | string;
    webhookId: string;
    data: unknown;
  };
  attempts: WebhookAttempt[];
  /**
   * `delivered` (a 2xx), `failed` (no retry left, the webhook deleted, or the emulator stopped),
   * `skipped` (its URL is not on a loopback host), or `pending` while attempts remain.
   */
  outcome: 'pending' | 'delivered' | 'failed' | 'skipped';
}

/**
 * What {@link SamsaraEmulator.emitEvent} started.
 *
 * @example
 * ```ts
 * const emitted: EmittedWebhookEvent = samsara.emitEvent('1001', 'DvirSubmitted', { dvir: { id: 'd-1' } });
 * const outcomes = (await emitted.settled).map((d) => d.outcome);
 * ```
 */
export interface EmittedWebhookEvent {
  eventId: string;
  /** The webhooks it goes to. */
  webhookIds: string[];
  /** Resolves (never rejects) once every delivery has an outcome other than `pending`. */
  settled: Promise<WebhookDelivery[]>;
}

/**
 * Options of {@link SamsaraEmulator.emitEvent}.
 *
 * @example
 * ```ts
 * samsara.emitEvent('1001', 'AlertIncident', { configurationId: 'c-1' }, { webhookId: webhook.id });
 * ```
 */
export interface EmitEventOptions {
  /** Deliver to this webhook of the organization only, whatever its `eventTypes` (as an alert configured to it would). */
  webhookId?: string;
  /** Default: a new UUID. The same id twice plays a duplicate delivery. */
  eventId?: string;
}

const EVENT_TYPES = new Set<string>(SAMSARA_WEBHOOK_EVENT_TYPES);

/** The emulator's deliveries in flight and the latest ones done, bounded. */
export class WebhookDeliveries {
  readonly #state: EmulatorState;
  readonly #settings: Settings;
  readonly #stopping: AbortSignal;
  readonly #history: WebhookDelivery[] = [];
  readonly #historyLimit: number;
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(state: EmulatorState, settings: Settings, stopping: AbortSignal, historyLimit: number) {
    this.#state = state;
    this.#settings = settings;
    this.#stopping = stopping;
    this.#historyLimit = historyLimit;
  }

  emit(orgId: string, eventType: string, data: unknown, options: EmitEventOptions): EmittedWebhookEvent {
    if (!this.#state.orgs.has(orgId)) throw new RangeError(`The emulator has no organization ${orgId}.`);
    if (!EVENT_TYPES.has(eventType)) throw new RangeError(`${eventType} is not a Samsara webhook event type.`);
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new RangeError("An event's data is an object.");
    }
    JSON.stringify(data); // throws here, not in a delivery, on what JSON cannot carry
    const targets = this.#targets(orgId, eventType, options.webhookId);
    const eventId = options.eventId ?? randomUUID();
    const eventTime = new Date(this.#state.clock()).toISOString();
    // Samsara's organization ids are numbers; an emulated organization named otherwise keeps its string.
    const org = /^\d{1,15}$/.test(orgId) ? Number(orgId) : orgId;
    const deliveries = targets.map((webhook) => {
      const delivery: WebhookDelivery = {
        eventId,
        eventType,
        orgId,
        webhookId: webhook.id,
        url: webhook.url,
        payload: { eventId, eventTime, eventType, orgId: org, webhookId: webhook.id, data },
        attempts: [],
        outcome: 'pending',
      };
      this.#history.push(delivery);
      if (this.#history.length > this.#historyLimit) this.#history.shift();
      return this.#track(this.#deliver(delivery));
    });
    return { eventId, webhookIds: targets.map((w) => w.id), settled: Promise.all(deliveries) };
  }

  /** The latest deliveries, oldest first, each a copy. */
  history(): WebhookDelivery[] {
    return this.#history.map((d) => ({ ...d, attempts: d.attempts.map((a) => ({ ...a })) }));
  }

  /** Resolves once no delivery is in flight. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #targets(orgId: string, eventType: string, webhookId: string | undefined): EmulatedWebhook[] {
    if (webhookId !== undefined) {
      const webhook = this.#state.webhooks.get(webhookId);
      if (webhook?.orgId !== orgId) throw new RangeError(`Organization ${orgId} has no webhook ${webhookId}.`);
      return [webhook];
    }
    return [...this.#state.webhooks.values()].filter((w) => w.orgId === orgId && w.eventTypes.includes(eventType));
  }

  async #deliver(delivery: WebhookDelivery): Promise<WebhookDelivery> {
    const { counters } = this.#state;
    for (let attempt = 0; ; attempt++) {
      // Read again at each attempt: a PATCH moves the next one, a DELETE ends them.
      const webhook = this.#state.webhooks.get(delivery.webhookId);
      if (!webhook || this.#stopping.aborted) break;
      delivery.url = webhook.url;
      if (!isLoopback(new URL(webhook.url))) {
        delivery.outcome = 'skipped';
        return delivery;
      }
      const result = await this.#attempt(webhook, delivery);
      delivery.attempts.push(result);
      counters.webhooks.attempts++;
      if (result.status !== undefined && result.status >= 200 && result.status < 300) {
        delivery.outcome = 'delivered';
        counters.webhooks.delivered++;
        return delivery;
      }
      if (attempt >= this.#settings.webhookRetryDelays.length) break;
      const delay = this.#settings.webhookRetryDelays[attempt];
      await sleep(delay, undefined, { signal: this.#stopping }).catch(() => undefined);
    }
    delivery.outcome = 'failed';
    counters.webhooks.failed++;
    return delivery;
  }

  async #attempt(webhook: EmulatedWebhook, delivery: WebhookDelivery): Promise<WebhookAttempt> {
    const at = this.#state.clock();
    const started = performance.now();
    const { body, headers } = signSamsaraWebhook({
      payload: delivery.payload,
      secret: webhook.secretKey,
      timestamp: Math.floor(at / 1000),
    });
    const custom = Object.fromEntries(webhook.customHeaders.map(({ key, value }) => [key, value]));
    const timeout = AbortSignal.timeout(this.#settings.webhookTimeout);
    try {
      const response = await fetch(webhook.url, {
        method: 'POST',
        headers: { ...custom, ...headers, 'user-agent': 'Samsara-Emulator' },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([timeout, this.#stopping]),
      });
      // The body is not read: a receiver's answer means its status only.
      await response.body?.cancel();
      return { at, durationMs: performance.now() - started, status: response.status };
    } catch {
      const error = this.#stopping.aborted ? 'stopped' : timeout.aborted ? 'timeout' : 'network';
      return { at, durationMs: performance.now() - started, error };
    }
  }

  #track<T>(work: Promise<T>): Promise<T> {
    const tracked = work.finally(() => this.#inFlight.delete(tracked)).catch(() => undefined);
    this.#inFlight.add(tracked);
    return work;
  }
}
