/**
 * `passport-samsara/webhooks`: Samsara's webhooks, complete. Verifying a delivery, the Express
 * receiver, the per-organization upkeep, and the lists of event types and payload versions. The
 * root keeps `verifySamsaraWebhook`, `samsaraWebhooks` and `organizationWebhooks`; the lists and
 * {@link WebhookVerificationError} are here too.
 *
 * @example
 * ```ts
 * import { SAMSARA_WEBHOOK_EVENT_TYPES } from 'passport-samsara/webhooks';
 * const known = (type: string) => (SAMSARA_WEBHOOK_EVENT_TYPES as readonly string[]).includes(type);
 * ```
 *
 * @packageDocumentation
 */
export { verifySamsaraWebhook } from './verify.js';
export type { VerifySamsaraWebhookOptions } from './verify.js';
export type { WebhookHeaders } from './signature.js';
export { SAMSARA_WEBHOOK_EVENT_TYPES, SAMSARA_WEBHOOK_VERSIONS } from './event-types.js';
export type {
  SamsaraWebhookEvent,
  SamsaraWebhookEnvelope,
  SamsaraWebhookEventType,
  SamsaraWebhookVersion,
} from './event-types.js';
export { samsaraWebhooks } from './receiver.js';
export { organizationWebhooks } from './upkeep.js';
export type { OrganizationWebhooksOptions } from './upkeep.js';
export type {
  GrantWebhooks,
  GrantWebhooksFactory,
  ReconcileOptions,
  ReconcileReport,
  WebhookOutcome,
  WebhookUpkeepTokens,
} from '../tokens/grant-webhooks.js';
export type {
  SamsaraWebhooksOptions,
  SamsaraWebhookHandler,
  SamsaraWebhookHandlers,
  WebhookSecrets,
  SecretsFound,
  WebhookOrigin,
  WebhookFailureContext,
} from './receiver-options.js';
export { WebhookVerificationError, WebhookUpkeepError } from '../errors/index.js';
export type { WebhookErrorCode, WebhookUpkeepErrorCode } from '../errors/index.js';
