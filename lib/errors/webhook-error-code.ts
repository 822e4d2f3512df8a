// A leaf of its own: SamsaraErrorCode (samsara-error.ts) includes these codes, and
// webhook-verification-error.ts and webhook-upkeep-error.ts, which import samsara-error.ts, carry them.

/**
 * The codes of {@link WebhookVerificationError}.
 *
 * @example
 * ```ts
 * const ours: WebhookErrorCode[] = ['SAMSARA_WEBHOOK_BAD_SECRET', 'SAMSARA_WEBHOOK_BODY_CONSUMED']; // fix the app, not the request
 * ```
 */
export type WebhookErrorCode =
  | 'SAMSARA_WEBHOOK_MISSING_HEADER'
  | 'SAMSARA_WEBHOOK_BAD_HEADER'
  | 'SAMSARA_WEBHOOK_MISMATCH'
  | 'SAMSARA_WEBHOOK_STALE'
  | 'SAMSARA_WEBHOOK_BAD_PAYLOAD'
  | 'SAMSARA_WEBHOOK_TOO_LARGE'
  | 'SAMSARA_WEBHOOK_BAD_SECRET'
  | 'SAMSARA_WEBHOOK_BODY_CONSUMED';

/**
 * The codes of {@link WebhookUpkeepError}.
 *
 * @example
 * ```ts
 * const fixInTheDashboard: WebhookUpkeepErrorCode = 'SAMSARA_WEBHOOK_SCOPE';
 * ```
 */
export type WebhookUpkeepErrorCode = 'SAMSARA_WEBHOOK_SCOPE' | 'SAMSARA_WEBHOOK_UPKEEP';
