import type { OAuthClient } from '../oauth-client.js';
import type { FleetRateLimiter } from '../rate-limit/fleet.js';
import type { Issuer } from './clients.js';
import type { Clock } from './clock.js';
import type { Credentials } from './credentials.js';
import type { OrganizationStatus, TokenStore } from './store.js';

// The seam by which a TokenManager keeps one webhook per connected organization: the manager
// calls it at the steps of the grant's lifecycle, and `organizationWebhooks` (lib/webhooks/)
// implements it with Samsara's API, which this layer does not know.

/**
 * What became of the organization's webhook at a step of its grant's lifecycle, as the hooks
 * hear it (`ConnectEvent.webhook`, `DisconnectEvent.webhook`):
 *
 * - `created`: there was none, it was created; `found`: it was there as it should be;
 * - `repaired`: it was there, and its URL or event types were set back (or its secret learnt);
 * - `deleted`: Disconnect deleted it; `absent`: Disconnect found none to delete;
 * - `failed`: the step failed, with the error's stable `code` (such as `SAMSARA_WEBHOOK_SCOPE`)
 *   and its message; the grant is kept all the same, and `reconcile()` tries again.
 *
 * @example
 * ```ts
 * const onConnect = ({ orgId, webhook }: ConnectEvent) => {
 *   if (webhook?.status === 'failed') log.warn({ orgId, code: webhook.code }, webhook.message);
 * };
 * ```
 */
export type WebhookOutcome =
  | { status: 'created' | 'found' | 'repaired' | 'deleted'; webhookId: string }
  | { status: 'absent' }
  | { status: 'failed'; code: string; message: string };

/**
 * Options of {@link GrantWebhooks.reconcile}.
 *
 * @example
 * ```ts
 * await tokens.webhooks?.reconcile({ concurrency: 8, signal: AbortSignal.timeout(600_000) } satisfies ReconcileOptions);
 * ```
 */
export interface ReconcileOptions {
  /** Organizations checked at once. Default 4. */
  concurrency?: number;
  /** Stops the pass: organizations not yet begun are left for the next one. */
  signal?: AbortSignal;
}

/**
 * What one {@link GrantWebhooks.reconcile} pass did, organization by organization counted once.
 *
 * @example
 * ```ts
 * const report: ReconcileReport = await tokens.webhooks!.reconcile();
 * for (const { orgId, code } of report.failed) log.warn({ orgId, code }, 'Samsara webhook not repaired');
 * ```
 */
export interface ReconcileReport {
  /** Connected organizations checked. */
  organizations: number;
  created: number;
  repaired: number;
  /** Already as they should be. */
  unchanged: number;
  /** The ones that failed, with the error's stable code; tried again on the next pass. */
  failed: Array<{ orgId: string; code: string }>;
}

/**
 * Keeps one webhook per connected organization beside its grant (see `organizationWebhooks`):
 * what `TokenManager` calls at a sign-in and a Disconnect, and `reconcile` for drift.
 *
 * @example
 * ```ts
 * const tokens = new TokenManager({ store, webhooks: organizationWebhooks({ url: 'https://app.example/samsara/webhooks' }) });
 * setInterval(() => void tokens.webhooks?.reconcile(), 3600_000);
 * ```
 */
export interface GrantWebhooks {
  /** After a sign-in stored the grant: ensures the organization's webhook. Never rejects. */
  connected(orgId: string): Promise<WebhookOutcome>;
  /** Before Disconnect revokes: deletes the organization's webhook. Rejects to stop the Disconnect. */
  disconnecting(orgId: string): Promise<WebhookOutcome>;
  /** Repairs every connected organization's webhook (missing, changed URL or events, unknown secret). */
  reconcile(options?: ReconcileOptions): Promise<ReconcileReport>;
}

/**
 * Makes a manager's {@link GrantWebhooks}: the `webhooks` option of `TokenManager`, such as
 * `organizationWebhooks({ url })`. It is given the manager once it is built.
 *
 * @example
 * ```ts
 * const webhooks: GrantWebhooksFactory = organizationWebhooks({ url: 'https://app.example/samsara/webhooks' });
 * ```
 */
export type GrantWebhooksFactory = (tokens: WebhookUpkeepTokens) => GrantWebhooks;

/**
 * What a {@link GrantWebhooksFactory} is given of its `TokenManager` (which satisfies it): the
 * store, the clock, the organizations to reconcile, and each one's credentials, client and
 * rate limiter for the calls to Samsara.
 */
export interface WebhookUpkeepTokens {
  readonly store: TokenStore;
  readonly clock: Clock;
  organizations(): AsyncIterator<OrganizationStatus>;
  credentials(key: string, options?: { rejected?: string }): Promise<Credentials>;
  clientFor(issuer: Issuer): OAuthClient;
  readonly rateLimiter?: FleetRateLimiter | undefined;
}
