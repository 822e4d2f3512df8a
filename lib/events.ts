import { channel, type Channel } from 'node:diagnostics_channel';
import { SamsaraError } from './errors/index.js';

// What the token manager and the API calls did, published on node:diagnostics_channel. A message
// is built only when a channel has a subscriber, so without one an event costs one property read.
// No message ever carries a token: organization id, outcome, duration, region, error code.

/**
 * The names of the channels this package publishes on, for `diagnostics_channel.subscribe`.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe(SAMSARA_CHANNELS.refresh, (message) => log.info(message, 'samsara refresh'));
 * ```
 */
export const SAMSARA_CHANNELS = Object.freeze({
  /** A refresh: `started`, `refreshed`, `adopted` (another caller's), `served-old`, `failed`. */
  refresh: 'passport-samsara:refresh',
  /** A wait for another process's refresh lock: `changed`, `unlocked`, `timed-out`. */
  lockWait: 'passport-samsara:lock-wait',
  /** One grant's revocation at Samsara: `revoked` or `failed`, with its `reason`. */
  revoke: 'passport-samsara:revoke',
  /** An organization must sign in again: `grant-dead`, `no-credentials`, `removed`, `lost-data`. */
  reauthorize: 'passport-samsara:reauthorization-required',
  /** The token store noticed that it lost its memory (its epoch marker vanished): `lost-data`. */
  storeLost: 'passport-samsara:store-lost',
  /** A token store operation failed: the outcome is the operation (`read`, `write`, `lock`...). */
  storeFailure: 'passport-samsara:store-failure',
  /** Samsara answered 429: `waiting` (the call waits, then resends) or `gave-up`. */
  rateLimit: 'passport-samsara:rate-limited',
  /**
   * A webhook delivery the receiver answered: `handled`, `duplicate`, `in-progress`, `unhandled`
   * (no handler for its type), `refused` (with the refusal's `code`) or `failed` (a handler threw,
   * or the store failed).
   */
  webhook: 'passport-samsara:webhook',
  /** A lifecycle hook (`onConnect`...) threw or rejected: the outcome names the hook; `error` is what it threw. */
  hookFailure: 'passport-samsara:hook-failed',
});

/**
 * What every message carries. `durationMs` is how long the step took, from the call that caused it.
 *
 * @example
 * ```ts
 * subscribe(SAMSARA_CHANNELS.refresh, (m) => {
 *   const { orgId, outcome, durationMs } = m as SamsaraEvent;
 *   histogram.record(durationMs, { outcome });
 * });
 * ```
 */
export interface SamsaraEvent {
  /** The organization (token store key). */
  orgId: string;
  outcome: string;
  durationMs: number;
  /** The region whose client served the organization, when known. */
  region?: string;
  /** The error code, on failures: `SAMSARA_REAUTHORIZE`, `SAMSARA_STORE_UNAVAILABLE`... */
  code?: string;
}

/**
 * A message of {@link SAMSARA_CHANNELS}.refresh.
 *
 * @example
 * ```ts
 * subscribe(SAMSARA_CHANNELS.refresh, (m) => {
 *   if ((m as RefreshEvent).outcome === 'failed') alert(`refresh of ${(m as RefreshEvent).orgId} failed`);
 * });
 * ```
 */
export interface RefreshEvent extends SamsaraEvent {
  outcome: 'started' | 'refreshed' | 'adopted' | 'served-old' | 'unsaved' | 'failed';
}

/**
 * A message of {@link SAMSARA_CHANNELS}.lockWait: `changed` (the credentials moved on),
 * `unlocked` (the lock came free without a change) or `timed-out`.
 *
 * @example
 * ```ts
 * subscribe(SAMSARA_CHANNELS.lockWait, (m) => lockWaits.record((m as LockWaitEvent).durationMs));
 * ```
 */
export interface LockWaitEvent extends SamsaraEvent {
  outcome: 'changed' | 'unlocked' | 'timed-out';
}

/**
 * A message of {@link SAMSARA_CHANNELS}.revoke. `reason`: `disconnect` (`tokens.revoke`),
 * `discard` (a grant the app would not keep) or `replaced` (per-grant revocation of a grant a
 * sign-in replaced). `grantId` names the grant without revealing a token.
 *
 * @example
 * ```ts
 * subscribe(SAMSARA_CHANNELS.revoke, (m) => {
 *   const { orgId, outcome, reason } = m as RevokeEvent;
 *   if (outcome === 'failed') log.warn({ orgId, reason }, 'Samsara revoke failed: grant kept for a retry');
 * });
 * ```
 */
export interface RevokeEvent extends SamsaraEvent {
  outcome: 'revoked' | 'failed';
  reason: 'disconnect' | 'discard' | 'replaced';
  grantId: string;
}

/**
 * A message of {@link SAMSARA_CHANNELS}.reauthorize: `grant-dead` (Samsara refused the refresh
 * token), `no-credentials` (none stored), `removed` (removed while being refreshed), `lost-data`
 * (none stored, and the store lost its memory: the organization's grant is still live at Samsara,
 * held by nobody, until it signs in again).
 *
 * @example
 * ```ts
 * subscribe(SAMSARA_CHANNELS.reauthorize, (m) => disconnected.add((m as ReauthorizeEvent).orgId));
 * ```
 */
export interface ReauthorizeEvent extends SamsaraEvent {
  outcome: 'grant-dead' | 'no-credentials' | 'removed' | 'lost-data';
}

/**
 * A message of {@link SAMSARA_CHANNELS}.storeLost, once per loss a store notices: its epoch marker
 * vanished or was replaced, so everything it held before is gone (a Redis restarted without
 * persistence, a `FLUSHALL`, a failover to an empty replica). `orgId` is empty (every organization
 * may be concerned); `trigger` says what found it: `reconnect` (the connection came back),
 * `health` (a readiness check), `miss` (a read found no credentials); `node` names the Cluster
 * master that lost its data (`host:port`), when on a Cluster.
 *
 * @example
 * ```ts
 * subscribe(SAMSARA_CHANNELS.storeLost, (m) => pager.alert('token store lost its data', m as StoreLostEvent));
 * ```
 */
export interface StoreLostEvent extends SamsaraEvent {
  outcome: 'lost-data';
  trigger: 'reconnect' | 'health' | 'miss';
  message: string;
  node?: string;
}

/**
 * A message of {@link SAMSARA_CHANNELS}.storeFailure: the outcome names the store operation that
 * failed; `message` says why (the driver's reason, never a stored value).
 *
 * @example
 * ```ts
 * subscribe(SAMSARA_CHANNELS.storeFailure, (m) => log.error(m as StoreFailureEvent, 'token store failed'));
 * ```
 */
export interface StoreFailureEvent extends SamsaraEvent {
  message: string;
}

/**
 * A message of {@link SAMSARA_CHANNELS}.rateLimit: `retryAfter` is Samsara's `Retry-After` in
 * seconds; `durationMs` the wait (`waiting`) or the total waited before giving up (`gave-up`).
 *
 * @example
 * ```ts
 * subscribe(SAMSARA_CHANNELS.rateLimit, (m) => throttled.add(1, { outcome: (m as RateLimitEvent).outcome }));
 * ```
 */
export interface RateLimitEvent extends SamsaraEvent {
  /**
   * `paced`: the fleet-wide limiter held the request back for `durationMs` (`retryAfter` 0);
   * `waiting`: Samsara answered 429; `gave-up`: the wait would pass `maxRateLimitWait`.
   */
  outcome: 'paced' | 'waiting' | 'gave-up';
  retryAfter: number;
}

/**
 * A message of {@link SAMSARA_CHANNELS}.webhook: what the receiver answered a delivery, and for
 * which event. `orgId` is '' and the event's fields absent when the delivery was refused before
 * its body could be read; a refusal's `orgId` is what the unverified body claimed. Never a
 * secret, a signature or the body.
 *
 * @example
 * ```ts
 * subscribe(SAMSARA_CHANNELS.webhook, (m) => {
 *   const { outcome, code, eventType } = m as WebhookDeliveryEvent;
 *   deliveries.add(1, { outcome, code, eventType });
 * });
 * ```
 */
export interface WebhookDeliveryEvent extends SamsaraEvent {
  outcome: 'handled' | 'duplicate' | 'in-progress' | 'unhandled' | 'refused' | 'failed';
  /** The HTTP status answered. */
  status: number;
  eventId?: string;
  eventType?: string;
  webhookId?: string;
}

/**
 * A message of {@link SAMSARA_CHANNELS}.hookFailure: a lifecycle hook of the `TokenManager` failed.
 * The grant is unaffected. `error` is what the hook threw (the host's own error, to log as the host
 * logs its errors); `code` its name, or this package's code.
 *
 * @example
 * ```ts
 * subscribe(SAMSARA_CHANNELS.hookFailure, (m) => log.error((m as HookFailureEvent).error, `${(m as HookFailureEvent).outcome} failed`));
 * ```
 */
export interface HookFailureEvent extends SamsaraEvent {
  outcome: 'onConnect' | 'onDisconnect' | 'onReauthorizationRequired';
  error: unknown;
}

interface Messages {
  refresh: RefreshEvent;
  lockWait: LockWaitEvent;
  revoke: RevokeEvent;
  reauthorize: ReauthorizeEvent;
  storeLost: StoreLostEvent;
  storeFailure: StoreFailureEvent;
  rateLimit: RateLimitEvent;
  webhook: WebhookDeliveryEvent;
  hookFailure: HookFailureEvent;
}

const channels = Object.fromEntries(
  Object.entries(SAMSARA_CHANNELS).map(([name, id]) => [name, channel(id)]),
) as Record<keyof Messages, Channel>;

/**
 * Publishes on `name` the message `build` makes, only if the channel has a subscriber: without
 * one, nothing is built. A subscriber that throws cannot break the call that published.
 */
export function publish<K extends keyof Messages>(name: K, build: () => Messages[K]): void {
  const target = channels[name];
  if (!target.hasSubscribers) return;
  try {
    target.publish(build());
  } catch {
    // diagnostics_channel reports a subscriber's exception on process 'uncaughtException' by
    // itself; this catch only keeps a failing build from failing the call.
  }
}

/** Whether anyone listens on `name`: lets a caller skip even reading the clock. */
export function listening(name: keyof Messages): boolean {
  return channels[name].hasSubscribers;
}

/** The stable code of an error, for a message: this package's, else the error's name. */
export function codeOf(err: unknown): string {
  if (err instanceof SamsaraError) return err.code;
  return err instanceof Error ? err.name : 'unknown';
}
