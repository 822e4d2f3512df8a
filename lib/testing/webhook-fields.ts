import { SAMSARA_WEBHOOK_EVENT_TYPES, SAMSARA_WEBHOOK_VERSIONS } from '../webhooks/event-types.js';
import { Refusal, apiError } from './replies.js';

// The fields of a webhook as POST /webhooks takes them and PATCH /webhooks/{id} changes them
// (RFC 7396 merge patch: a field sent replaces the old value, arrays whole), checked the strict
// way: an unknown field, an unknown event type or version, a header that could break the
// delivery's own headers, is a 400 in Samsara's error shape.

/**
 * A webhook the emulator keeps, as `GET /webhooks/{id}` answers it (plus its organization).
 *
 * @example
 * ```ts
 * const [webhook]: EmulatedWebhook[] = samsara.webhooksOf('1001');
 * signSamsaraWebhook({ payload, secret: webhook.secretKey });
 * ```
 */
export interface EmulatedWebhook {
  /** System generated, a string of digits. */
  id: string;
  orgId: string;
  name: string;
  url: string;
  version: string;
  /** The event types it receives (see {@link SamsaraEmulator.emitEvent}). */
  eventTypes: string[];
  customHeaders: Array<{ key: string; value: string }>;
  /** Base64: what its deliveries are signed with. */
  secretKey: string;
}

/** What a client sets. */
export type WebhookFields = Pick<EmulatedWebhook, 'name' | 'url' | 'version' | 'eventTypes' | 'customHeaders'>;

/** Samsara documents no default version; the emulator takes the oldest. */
export const DEFAULT_VERSION = SAMSARA_WEBHOOK_VERSIONS[0];
/** Emulator bounds (Samsara documents none but the 100-character header value). */
const MAX_NAME = 255;
const MAX_URL = 2048;
const MAX_HEADERS = 10;
const MAX_HEADER_VALUE = 100;
const EVENT_TYPES = new Set<string>(SAMSARA_WEBHOOK_EVENT_TYPES);
// Headers the delivery itself sets, or that would change how it travels.
const RESERVED = new Set([
  'content-type',
  'content-length',
  'transfer-encoding',
  'connection',
  'host',
  'user-agent',
  'x-samsara-signature',
  'x-samsara-timestamp',
]);
const FIELDS = ['name', 'url', 'version', 'eventTypes', 'customHeaders'] as const;

/** The fields of a `POST /webhooks` body; `name` and `url` are required. */
export function createdFields(body: unknown): WebhookFields {
  const given = objectOf(body);
  if (given.name === undefined || given.url === undefined) throw bad('name and url are required.');
  return patchedFields({ name: '', url: '', version: DEFAULT_VERSION, eventTypes: [], customHeaders: [] }, given);
}

/** `current` with a `PATCH` body applied: a field sent replaces the old value; null clears an array. */
export function patchedFields(current: WebhookFields, body: unknown): WebhookFields {
  const given = objectOf(body);
  const next: WebhookFields = { ...current };
  if (given.name !== undefined) next.name = nameOf(given.name);
  if (given.url !== undefined) next.url = urlOf(given.url);
  if (given.version !== undefined) next.version = versionOf(given.version);
  if (given.eventTypes !== undefined) next.eventTypes = eventTypesOf(given.eventTypes);
  if (given.customHeaders !== undefined) next.customHeaders = headersOf(given.customHeaders);
  return next;
}

/** Whether a URL is on this machine: the only place the emulator delivers to. */
export function isLoopback(url: URL): boolean {
  const host = url.hostname;
  return host === 'localhost' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

function objectOf(body: unknown): Partial<Record<(typeof FIELDS)[number], unknown>> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw bad('The request body must be a JSON object.');
  }
  const unknown = Object.keys(body).find((name) => !(FIELDS as readonly string[]).includes(name));
  if (unknown !== undefined) {
    throw bad(`Unknown field ${JSON.stringify(unknown)}: a webhook has ${FIELDS.join(', ')}.`);
  }
  return body;
}

function nameOf(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_NAME) {
    throw bad(`name must be a non-empty string of at most ${MAX_NAME} characters.`);
  }
  return value;
}

function urlOf(value: unknown): string {
  const url = typeof value === 'string' && value.length <= MAX_URL && URL.canParse(value) ? new URL(value) : undefined;
  if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url)))) {
    throw bad('url must be an https URL (or http on a loopback host, for local tests).');
  }
  return value as string;
}

function versionOf(value: unknown): string {
  if (typeof value !== 'string' || !(SAMSARA_WEBHOOK_VERSIONS as readonly string[]).includes(value)) {
    throw bad(`version must be one of ${SAMSARA_WEBHOOK_VERSIONS.join(', ')}.`);
  }
  return value;
}

function eventTypesOf(value: unknown): string[] {
  if (value === null) return [];
  if (!Array.isArray(value)) throw bad('eventTypes must be an array of event types.');
  const unknown: unknown = value.find((type) => typeof type !== 'string' || !EVENT_TYPES.has(type));
  if (unknown !== undefined) throw bad(`eventTypes: ${JSON.stringify(unknown)} is not a Samsara event type.`);
  if (new Set(value).size !== value.length) throw bad('eventTypes lists an event type twice.');
  return [...(value as string[])];
}

function headersOf(value: unknown): WebhookFields['customHeaders'] {
  if (value === null) return [];
  if (!Array.isArray(value) || value.length > MAX_HEADERS) {
    throw bad(`customHeaders must be an array of at most ${MAX_HEADERS} { key, value } objects.`);
  }
  const seen = new Set<string>();
  return value.map((header: unknown) => {
    const {
      key,
      value: text,
      ...rest
    } = (typeof header === 'object' && header !== null ? header : {}) as Record<string, unknown>;
    if (typeof key !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(key) || Object.keys(rest).length > 0) {
      throw bad('Each custom header is { key, value }, its key letters, digits and hyphens.');
    }
    if (RESERVED.has(key.toLowerCase()) || seen.has(key.toLowerCase())) {
      throw bad(`customHeaders: ${key} is set by the delivery itself, or twice.`);
    }
    seen.add(key.toLowerCase());
    // Printable ASCII only: a CR or LF in a value would start a header of its own.
    if (typeof text !== 'string' || text.length > MAX_HEADER_VALUE || !/^[\x20-\x7e]*$/.test(text)) {
      throw bad(`customHeaders: the value of ${key} must be printable text of at most ${MAX_HEADER_VALUE} characters.`);
    }
    return { key, value: text };
  });
}

function bad(message: string): Refusal {
  return new Refusal(apiError(400, message));
}
