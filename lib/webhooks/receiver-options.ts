import type { Request } from 'express';
import { ConfigurationError } from '../errors/index.js';
import { numberOption } from '../number-option.js';
import { systemClock, type Clock } from '../tokens/clock.js';
import type { TokenManager } from '../tokens/manager.js';
import { MemoryTokenStore } from '../tokens/memory-store.js';
import type { ClaimOutcome, StoredWebhook, TokenStore } from '../tokens/store.js';
import { SAMSARA_WEBHOOK_EVENT_TYPES, type SamsaraWebhookEvent, type SamsaraWebhookEventType } from './event-types.js';
import { keysOf } from './signature.js';
import { DEFAULT_TOLERANCE } from './verify.js';

/**
 * Which organization's webhook a delivery says it comes from, read from its body before the
 * signature is checked: the secrets it leads to are what authenticates it.
 *
 * @example
 * ```ts
 * const secrets = async ({ orgId }: WebhookOrigin) => (await db.webhookOf(orgId))?.secretKeys;
 * ```
 */
export interface WebhookOrigin {
  /** The organization's id as the token store keys it: `String(event.orgId)`. */
  orgId: string;
  /** The delivering webhook's id, when the body names one. */
  webhookId: string | undefined;
}

/**
 * The secrets a delivery may be signed with: the webhook's `secretKey`, several while rotating,
 * or a function that finds those of the delivering organization's webhook (nothing: the
 * organization has no webhook here, and its deliveries are refused as unsigned).
 *
 * @example
 * ```ts
 * const single: WebhookSecrets = process.env.SAMSARA_WEBHOOK_SECRET!;
 * const perOrganization: WebhookSecrets = async ({ orgId }) => secretsByOrg.get(orgId);
 * ```
 */
export type WebhookSecrets =
  string | readonly string[] | ((origin: WebhookOrigin) => SecretsFound | Promise<SecretsFound>);

/** What a {@link WebhookSecrets} function finds. */
export type SecretsFound = string | readonly string[] | null | undefined;

/**
 * A handler of one event type. The receiver waits for it before answering: once it returns, the
 * delivery is answered 204 and the event marked done; if it throws, 500 (Samsara retries) and the
 * mark released, so the retry runs it again. Keep it quick (queue the work) when the work is slow.
 *
 * @example
 * ```ts
 * const onVehicle: SamsaraWebhookHandler<'VehicleCreated'> = async (event) => queue.add('vehicle', event.data);
 * ```
 */
export type SamsaraWebhookHandler<T extends SamsaraWebhookEventType = SamsaraWebhookEventType> = (
  event: SamsaraWebhookEvent<T>,
  req: Request,
) => unknown;

/**
 * Handlers by event type, and `default` for every type without one of its own (types Samsara adds
 * later included). A type with neither is answered 204 and dropped.
 *
 * @example
 * ```ts
 * const handlers: SamsaraWebhookHandlers = {
 *   VehicleCreated: async (event) => sync.vehicle(String(event.orgId), event.data),
 *   default: (event) => log.info({ type: event.eventType }, 'unhandled Samsara event'),
 * };
 * ```
 */
export type SamsaraWebhookHandlers = { [T in SamsaraWebhookEventType]?: SamsaraWebhookHandler<T> } & {
  default?: SamsaraWebhookHandler;
};

/**
 * What the receiver knew of a delivery when something failed, for {@link SamsaraWebhooksOptions.onError}.
 *
 * @example
 * ```ts
 * const onError = (err: unknown, delivery: WebhookFailureContext) => log.error({ err, ...delivery }, 'Samsara webhook');
 * ```
 */
export interface WebhookFailureContext {
  orgId?: string;
  eventId?: string;
  eventType?: string;
  webhookId?: string;
}

/**
 * Options of {@link samsaraWebhooks}.
 *
 * @example
 * ```ts
 * app.post('/samsara/webhooks', samsaraWebhooks({ tokens, secrets, handlers: { DvirSubmitted: onDvir } }));
 * ```
 */
export interface SamsaraWebhooksOptions {
  /**
   * The secrets deliveries are signed with (see {@link WebhookSecrets}). Default: the delivering
   * organization's webhook's, as the store keeps it (`organizationWebhooks` saves it there).
   */
  secrets?: WebhookSecrets;
  handlers: SamsaraWebhookHandlers;
  /** The app's manager: its store deduplicates deliveries across the fleet, its clock tells the time. */
  tokens?: TokenManager;
  /** The store that deduplicates, instead of the manager's. Default: `tokens.store`, else one in memory (one process). */
  store?: TokenStore;
  /** The replay window, in seconds. Default 300. */
  tolerance?: number;
  /** The largest body accepted, in bytes; larger is answered 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** How long an event's id is remembered once handled, in ms: a retry within it is not run again. Default 24 h. */
  dedupeTtl?: number;
  /**
   * How long an event counts as in progress, in ms: a delivery of it meanwhile is answered 409
   * (Samsara retries it later); past it, a process that died mid-handler no longer holds the
   * event back. Longer than the slowest handler. Default 60 000.
   */
  processingTtl?: number;
  /**
   * Told of every failure that is the app's to fix: a handler that threw, a store or secret lookup
   * that failed, a misconfiguration (a body parser ahead of the receiver, a secret that is not
   * Base64). Default: one JSON line on stderr. Refused deliveries (forged, stale) are not errors:
   * they go to the `webhook` diagnostics channel only.
   */
  onError?: (err: unknown, delivery: WebhookFailureContext) => void;
  /** Where the replay window reads the time. Default: `tokens.clock`, else the system clock. */
  clock?: Pick<Clock, 'now'>;
}

/** The receiver's options, checked, with their defaults. */
export interface ReceiverSettings {
  secretsOf(origin: WebhookOrigin): Promise<SecretsFound>;
  handlerOf(eventType: string): SamsaraWebhookHandler | undefined;
  claim(name: string, ttlMs: number): Promise<ClaimOutcome>;
  tolerance: number;
  maxBodyBytes: number;
  dedupeTtl: number;
  processingTtl: number;
  onError: (err: unknown, delivery: WebhookFailureContext) => void;
  clock: Pick<Clock, 'now'>;
}

const KNOWN = new Set<string>([...SAMSARA_WEBHOOK_EVENT_TYPES, 'default']);

/** The settings of `options`; a `ConfigurationError` names the first option the receiver cannot use. */
export function receiverSettings(options: SamsaraWebhooksOptions): ReceiverSettings {
  const option = (name: string, value: number | undefined, fallback: number, min?: number): number =>
    numberOption('samsaraWebhooks', name, value, fallback, { min });
  const store = options.store ?? options.tokens?.store ?? new MemoryTokenStore();
  if (typeof store.claim !== 'function') {
    throw new ConfigurationError(
      'samsaraWebhooks deduplicates deliveries with the token store, and this store has no claim(): use MemoryTokenStore, RedisTokenStore or PostgresTokenStore, or implement claim() (see the TokenStore contract).',
    );
  }
  return {
    secretsOf: secretsLookup(options.secrets ?? storedSecrets(options)),
    handlerOf: handlerLookup(options.handlers),
    claim: store.claim.bind(store),
    tolerance: option('tolerance', options.tolerance, DEFAULT_TOLERANCE, 0),
    maxBodyBytes: option('maxBodyBytes', options.maxBodyBytes, 1024 * 1024),
    dedupeTtl: option('dedupeTtl', options.dedupeTtl, 24 * 3600_000),
    processingTtl: option('processingTtl', options.processingTtl, 60_000),
    onError: options.onError ?? stderrError,
    clock: options.clock ?? options.tokens?.clock ?? systemClock,
  };
}

/** The secret of the organization's webhook as the store keeps it; none: its deliveries are refused. */
function storedSecrets(options: SamsaraWebhooksOptions): WebhookSecrets {
  const store = options.store ?? options.tokens?.store;
  // Without the app's store, nothing could ever be found: every delivery would be refused, quietly.
  if (typeof store?.webhook !== 'function') {
    throw new ConfigurationError(
      "samsaraWebhooks needs the option secrets, or the manager (tokens) or store whose organizationWebhooks keep each organization's secret (a store with webhook()).",
    );
  }
  const webhookOf: (key: string) => Promise<StoredWebhook | null> = store.webhook.bind(store);
  return async ({ orgId }) => (await webhookOf(orgId))?.secretKey;
}

function secretsLookup(secrets: WebhookSecrets): ReceiverSettings['secretsOf'] {
  if (typeof secrets === 'function') return async (origin) => secrets(origin);
  if (typeof secrets !== 'string' && !Array.isArray(secrets)) {
    throw new ConfigurationError('samsaraWebhooks option secrets must be a secret, an array of secrets or a function.');
  }
  // Checked now: an empty or mistyped secret (an unset variable) would otherwise refuse every delivery quietly.
  try {
    keysOf(secrets);
  } catch (err) {
    throw new ConfigurationError(`samsaraWebhooks option secrets: ${(err as Error).message}`);
  }
  return async () => secrets;
}

function handlerLookup(handlers: SamsaraWebhookHandlers): ReceiverSettings['handlerOf'] {
  if (typeof handlers !== 'object' || (handlers as unknown) === null) {
    throw new ConfigurationError('samsaraWebhooks option handlers must be an object of handlers by event type.');
  }
  const byType = new Map<string, SamsaraWebhookHandler>();
  for (const [type, handler] of Object.entries(handlers)) {
    // A misspelt type would never fire, silently: say so now.
    if (!KNOWN.has(type)) {
      throw new ConfigurationError(
        `samsaraWebhooks handlers has ${JSON.stringify(type)}, which is no Samsara event type; use default for types this package does not list.`,
      );
    }
    if (typeof handler !== 'function') {
      throw new ConfigurationError(`samsaraWebhooks handler ${type} must be a function.`);
    }
    byType.set(type, handler as SamsaraWebhookHandler);
  }
  const fallback = byType.get('default');
  // A Map, not the object: an eventType such as "constructor" must not find Object.prototype's.
  return (eventType) => (eventType === 'default' ? fallback : (byType.get(eventType) ?? fallback));
}

/** One JSON line (a forged CR/LF cannot start a line of its own); the error's stack, never a body. */
function stderrError(err: unknown, delivery: WebhookFailureContext): void {
  const error = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  const entry = { level: 'error', source: 'passport-samsara webhooks', ...delivery, error };
  process.stderr.write(`${JSON.stringify(entry)}\n`);
}
