import type { Request, RequestHandler, Response } from 'express';
import { RetryableError, SamsaraError, WebhookVerificationError } from '../errors/index.js';
import { publish, type WebhookDeliveryEvent } from '../events.js';
import type { SamsaraWebhookEvent } from './event-types.js';
import { readRawBody } from './raw-body.js';
import {
  receiverSettings,
  type ReceiverSettings,
  type SamsaraWebhooksOptions,
  type WebhookFailureContext,
  type WebhookOrigin,
} from './receiver-options.js';
import { checkFreshness, keysOf, signatureMatches, signedHeaders } from './signature.js';
import { eventOf, mismatch, parseDelivery } from './verify.js';

/**
 * Express middleware that receives Samsara's webhook deliveries: it reads the raw body itself
 * (mount it before any body parser), finds the secrets of the delivering organization's webhook,
 * verifies the signature and the replay window, runs each event once across the fleet (claimed in
 * the token store by its `eventId`), and answers:
 *
 * - 204 once the event's handler returned (or it has none), and for a duplicate already handled;
 * - 409 with `Retry-After` while another process is handling the same event;
 * - 400, 401 or 413 for a refused delivery (`{ error: { code, message } }`, see
 *   `WebhookVerificationError`); an organization without a secret here is refused as unsigned,
 *   so a forger learns nothing of which organizations are connected;
 * - 500 when the handler threw (the event's claim is released, so Samsara's retry runs it
 *   again) or the receiver is misconfigured, 503 with `Retry-After` when the store is down.
 *
 * No answer, log line or diagnostics message carries the body, a secret or a signature.
 *
 * @param options - the secrets, the handlers, and the manager (whose store deduplicates).
 * @returns the middleware, for a `POST` route.
 * @throws `ConfigurationError` at once for an option it cannot use, a handler for no known
 *   event type, or a store without `claim()`.
 *
 * @example
 * ```ts
 * app.post(
 *   '/samsara/webhooks',
 *   samsaraWebhooks({
 *     tokens,
 *     secrets: async ({ orgId }) => webhookSecrets.get(orgId),
 *     handlers: {
 *       VehicleCreated: async (event) => jobs.add('sync-vehicle', { orgId: String(event.orgId), vehicle: event.data }),
 *     },
 *   }),
 * );
 * app.use(express.json()); // body parsers after the receiver
 * ```
 */
export function samsaraWebhooks(options: SamsaraWebhooksOptions): RequestHandler {
  const settings = receiverSettings(options);
  return (req, res) => {
    void receive(settings, req, res);
  };
}

type Outcome = WebhookDeliveryEvent['outcome'];

/** What one delivery has shown of itself so far, for the answer, the channel and onError. */
interface Delivery {
  started: number;
  origin?: WebhookOrigin;
  event?: SamsaraWebhookEvent;
}

async function receive(settings: ReceiverSettings, req: Request, res: Response): Promise<void> {
  const delivery: Delivery = { started: performance.now() };
  try {
    if (req.method !== 'POST') {
      res.set('Allow', 'POST');
      answer(res, delivery, 'refused', 405, { code: 'SAMSARA_WEBHOOK_METHOD', message: 'Deliveries are POSTs.' });
      return;
    }
    const body = await readRawBody(req, settings.maxBodyBytes);
    const signed = signedHeaders(req.headers);
    // Read before it is verified, only to find whose secrets verify it.
    const parsed = parseDelivery(body);
    delivery.origin = originOf(parsed);
    const found = delivery.origin && (await settings.secretsOf(delivery.origin));
    const keys = found === undefined || found === null || found.length === 0 ? [] : keysOf(found);
    if (!signatureMatches(keys, signed, body)) throw mismatch();
    checkFreshness(signed, settings.clock.now(), settings.tolerance);
    const event = (delivery.event = eventOf(parsed));
    await dispatch(settings, req, res, delivery, event);
  } catch (err) {
    failed(settings, res, delivery, err);
  }
}

async function dispatch(
  settings: ReceiverSettings,
  req: Request,
  res: Response,
  delivery: Delivery,
  event: SamsaraWebhookEvent,
): Promise<void> {
  const handler = settings.handlerOf(event.eventType);
  if (!handler) {
    answer(res, delivery, 'unhandled', 204);
    return;
  }
  const taken = await settings.claim(`webhook:${String(event.orgId)}:${event.eventId}`, settings.processingTtl);
  if (!taken.claim) {
    if (taken.done) {
      answer(res, delivery, 'duplicate', 204);
      return;
    }
    res.set('Retry-After', String(Math.ceil(settings.processingTtl / 1000)));
    answer(res, delivery, 'in-progress', 409, {
      code: 'SAMSARA_WEBHOOK_IN_PROGRESS',
      message: 'This event is being handled by another delivery; retry later.',
    });
    return;
  }
  try {
    await handler(event, req);
  } catch (err) {
    await taken.claim.release().catch(() => undefined);
    settings.onError(err, contextOf(delivery));
    answer(res, delivery, 'failed', 500, {
      code: 'SAMSARA_WEBHOOK_HANDLER_FAILED',
      message: 'The app failed to handle the event; retry later.',
    });
    return;
  }
  // The handler ran: a lost mark can at worst let a later retry run it again, so the delivery
  // is answered as handled either way.
  await taken.claim.complete(settings.dedupeTtl).catch((err: unknown) => settings.onError(err, contextOf(delivery)));
  answer(res, delivery, 'handled', 204);
}

/** The answer to a delivery that failed before its handler ran, or on the way to it. */
function failed(settings: ReceiverSettings, res: Response, delivery: Delivery, err: unknown): void {
  if (!(err instanceof SamsaraError)) {
    // The client hung up mid-body (nobody is left to answer), or a secret lookup of the app's threw.
    if (res.socket?.destroyed !== false) return;
    settings.onError(err, contextOf(delivery));
    answer(res, delivery, 'failed', 500, { code: 'SAMSARA_WEBHOOK_FAILED', message: 'The webhook receiver failed.' });
    return;
  }
  if (err instanceof WebhookVerificationError && err.status < 500) {
    if (err.code === 'SAMSARA_WEBHOOK_TOO_LARGE') res.set('Connection', 'close');
    answer(res, delivery, 'refused', err.status, { code: err.code, message: err.message });
    return;
  }
  // The app's to fix (a misconfiguration, a store that is down): loud, and a fixed sentence for Samsara.
  settings.onError(err, contextOf(delivery));
  if (err instanceof RetryableError) res.set('Retry-After', String(Math.max(1, Math.ceil(err.retryAfter))));
  const message =
    err.status === 503 ? 'The webhook receiver is briefly unavailable.' : 'The webhook receiver is misconfigured.';
  answer(res, delivery, 'failed', err.status, { code: err.code, message });
}

function answer(
  res: Response,
  delivery: Delivery,
  outcome: Outcome,
  status: number,
  error?: { code: string; message: string },
): void {
  if (!res.headersSent) {
    if (error) res.status(status).json({ error });
    else res.status(status).end();
  }
  publish('webhook', () => ({
    orgId: delivery.origin?.orgId ?? '',
    outcome,
    status,
    durationMs: performance.now() - delivery.started,
    ...(error && { code: error.code }),
    ...contextOf(delivery),
  }));
}

/** The organization and webhook an unverified body names, or undefined when it names none. */
function originOf(parsed: unknown): WebhookOrigin | undefined {
  const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const { orgId, webhookId } = fields;
  if (typeof orgId !== 'number' && typeof orgId !== 'string') return undefined;
  return { orgId: String(orgId), webhookId: typeof webhookId === 'string' ? webhookId : undefined };
}

function contextOf(delivery: Delivery): WebhookFailureContext {
  const { origin, event } = delivery;
  return {
    ...(origin && { orgId: origin.orgId }),
    ...(origin?.webhookId !== undefined && { webhookId: origin.webhookId }),
    ...(event && { eventId: event.eventId, eventType: event.eventType }),
  };
}
