// The package's public face: what an app needs, nothing else. Internals (sealing, profile
// parsing, endpoint resolution, Retry-After parsing) stay inside.
export { SamsaraStrategy, SamsaraStrategy as Strategy, SamsaraStrategy as default } from './strategy.js';
export type { SamsaraStrategyOptions, SamsaraStrategyOptionsWithRequest } from './strategy-options.js';
export type {
  SamsaraVerify,
  SamsaraVerifyAsync,
  SamsaraVerifyCallback,
  SamsaraVerifyCallbackWithParams,
  SamsaraVerifyWithRequest,
  SamsaraVerifyFunction,
  SamsaraSignIn,
  SamsaraUser,
  SamsaraTokenParams,
  VerifyDone,
} from './verify.js';
export { SessionStateStore } from './state-store.js';
export type { SessionStateStoreOptions } from './state-store.js';
export type { SamsaraProfile, SamsaraOrganization } from './profile.js';
export type { SamsaraEndpoints, SamsaraRegion } from './endpoints.js';
export { OAuthClient } from './oauth-client.js';
export type { OAuthClientOptions, TokenSet } from './oauth-client.js';
export * from './errors/index.js';
export type { Credentials, NewCredentials, GrantTokens, TokenResponse } from './tokens/credentials.js';
export { MemoryTokenStore } from './tokens/memory-store.js';
export type {
  TokenStore,
  LockHandle,
  OrganizationStatus,
  StoreWatch,
  StoreHealth,
  Claim,
  ClaimOutcome,
  StoredWebhook,
} from './tokens/store.js';
export type { CredentialCacheOptions } from './tokens/credential-cache.js';
export { RedisTokenStore } from './tokens/redis-store.js';
export type {
  RedisTokenStoreOptions,
  RedisDurabilityOptions,
  RedisClientLike,
  RedisSubscriberLike,
} from './tokens/redis-store.js';
export { PostgresTokenStore } from './tokens/postgres-store.js';
export type { PostgresTokenStoreOptions, PostgresPoolLike, PostgresClientLike } from './tokens/postgres-store.js';
export type { SealedStore, SealedGrantRecord, SealedGrant, ImportOutcome } from './tokens/sealed-record.js';
export { generateSealingKey } from './tokens/seal.js';
export type { SealingKey } from './tokens/seal.js';
export { TokenManager } from './tokens/manager.js';
export type { TokenManagerOptions, AccessOptions, RevocationScope } from './tokens/manager.js';
export type {
  LifecycleHooks,
  ConnectEvent,
  DisconnectEvent,
  ReauthorizationRequiredEvent,
} from './tokens/lifecycle.js';
export type { RegionClients, Issuer } from './tokens/clients.js';

// Jobs at Samsara's rate limits: the fleet-wide limiter every call goes through.
export { FleetRateLimiter } from './rate-limit/fleet.js';
export type { FleetRateLimitOptions } from './rate-limit/fleet.js';
export { SAMSARA_ENDPOINT_LIMITS, RateLimits } from './rate-limit/limits.js';
export type { RateLimitOptions, EndpointRateLimit, RateBucket } from './rate-limit/limits.js';
export { MemoryRateLimiter } from './rate-limit/limiter.js';
export type { RateLimiterBackend, RateReservation } from './rate-limit/limiter.js';
export { RedisRateLimiter } from './rate-limit/redis-limiter.js';
export type { RedisRateLimiterOptions } from './rate-limit/redis-limiter.js';

export { samsaraErrorOf } from './sdk.js';
export type { SamsaraClientOptions, ForOrgOptions } from './sdk.js';
export { SAMSARA_CHANNELS } from './events.js';
export type {
  SamsaraEvent,
  RefreshEvent,
  LockWaitEvent,
  RevokeEvent,
  ReauthorizeEvent,
  StoreLostEvent,
  StoreFailureEvent,
  RateLimitEvent,
  WebhookDeliveryEvent,
  HookFailureEvent,
} from './events.js';
export type { Clock } from './tokens/clock.js';
export { samsara, samsaraErrorHandler } from './express.js';
export type { SamsaraRequestContext, SamsaraMiddlewareOptions, SamsaraErrorHandlerOptions } from './express.js';
// Webhooks: verifying deliveries, and the Express receiver.
export { verifySamsaraWebhook } from './webhooks/verify.js';
export type { VerifySamsaraWebhookOptions } from './webhooks/verify.js';
export type { WebhookHeaders } from './webhooks/signature.js';
export { SAMSARA_WEBHOOK_EVENT_TYPES, SAMSARA_WEBHOOK_VERSIONS } from './webhooks/event-types.js';
export type {
  SamsaraWebhookEvent,
  SamsaraWebhookEnvelope,
  SamsaraWebhookEventType,
  SamsaraWebhookVersion,
} from './webhooks/event-types.js';
export { samsaraWebhooks } from './webhooks/receiver.js';
export { organizationWebhooks } from './webhooks/upkeep.js';
export type { OrganizationWebhooksOptions } from './webhooks/upkeep.js';
export type {
  GrantWebhooks,
  GrantWebhooksFactory,
  ReconcileOptions,
  ReconcileReport,
  WebhookOutcome,
  WebhookUpkeepTokens,
} from './tokens/grant-webhooks.js';
export type {
  SamsaraWebhooksOptions,
  SamsaraWebhookHandler,
  SamsaraWebhookHandlers,
  WebhookSecrets,
  SecretsFound,
  WebhookOrigin,
  WebhookFailureContext,
} from './webhooks/receiver-options.js';
export { samsaraSignOut, samsaraDisconnect } from './sign-out.js';
export type { SamsaraSignOutOptions, SamsaraDisconnectOptions } from './sign-out.js';
// Deprecated names, kept for a while: samsaraLogout disconnects (see samsaraDisconnect).
// eslint-disable-next-line @typescript-eslint/no-deprecated
export { samsaraLogout, type SamsaraLogoutOptions } from './sign-out.js';
