/**
 * `passport-samsara/errors`: every error the package raises, each a {@link SamsaraError} with a
 * stable `code` and an HTTP `status`. The root keeps `SamsaraError`, `ReauthorizationRequiredError`
 * and `samsaraErrorOf`, the ones most apps need; the rest are here, for `instanceof` on one kind.
 *
 * @example
 * ```ts
 * import { RateLimitedError } from 'passport-samsara/errors';
 * if (err instanceof RateLimitedError) res.set('Retry-After', String(err.retryAfter));
 * ```
 *
 * @packageDocumentation
 */
export { SamsaraError } from './samsara-error.js';
export type { SamsaraErrorCode, SamsaraErrorOptions } from './samsara-error.js';
export { RetryableError } from './retryable-error.js';
export { ConfigurationError } from './configuration-error.js';
export { BadResponseError } from './bad-response-error.js';
export { UpstreamError } from './upstream-error.js';
export { TokenRejectedError } from './token-rejected-error.js';
export { ProfileError } from './profile-error.js';
export { ReauthorizationRequiredError } from './reauthorization-required-error.js';
export { StoreUnavailableError } from './store-unavailable-error.js';
export { RefreshUnavailableError } from './refresh-unavailable-error.js';
export { RateLimitedError } from './rate-limited-error.js';
export { SealError } from './seal-error.js';
export { RevokeFailedError } from './revoke-failed-error.js';
export { CrossSiteRequestError } from './cross-site-request-error.js';
export { WebhookVerificationError } from './webhook-verification-error.js';
export type { WebhookErrorCode } from './webhook-error-code.js';
export { WebhookUpkeepError } from './webhook-upkeep-error.js';
export type { WebhookUpkeepErrorCode } from './webhook-error-code.js';
