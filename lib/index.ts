// The package's public face: what an app needs, nothing else; at most 24 runtime names
// (test/package.surface.test.ts counts them). Each topic is complete in its subpath:
// passport-samsara/errors, /rate-limit, /webhooks, /store (for store implementers), /testing,
// /app. Internals (sealing, profile parsing, endpoint resolution, Retry-After parsing) stay inside.

// Sign-in: the passport strategy, its options, the verify a user writes, the state it keeps.
export { SamsaraStrategy, SamsaraStrategy as Strategy, SamsaraStrategy as default } from './strategy.js';
export type { SamsaraStrategyOptions, SamsaraStrategyOptionsWithRequest } from './strategy-options.js';
export type { SamsaraVerifyFunction, SamsaraSignIn, SamsaraUser, SamsaraTokenParams, VerifyDone } from './verify.js';
export { SessionStateStore } from './state-store.js';
export type { SessionStateStoreOptions } from './state-store.js';
export type { SamsaraProfile, SamsaraOrganization } from './profile.js';
export type { SamsaraEndpoints, SamsaraRegion } from './endpoints.js';

// Tokens: the manager, the stores it keeps grants in, and Samsara's token endpoint.
export { TokenManager } from './tokens/manager.js';
export type { TokenManagerOptions, AccessOptions, RevocationScope } from './tokens/manager.js';
export type {
  LifecycleHooks,
  ConnectEvent,
  DisconnectEvent,
  ReauthorizationRequiredEvent,
} from './tokens/lifecycle.js';
export type { RegionClients, Issuer } from './tokens/clients.js';
export type { Credentials, NewCredentials, GrantTokens, TokenResponse } from './tokens/credentials.js';
export type { TokenStore, OrganizationStatus, LockHandle, DueRead } from './tokens/store.js';
export type { CredentialCacheOptions } from './tokens/credential-cache.js';
export { MemoryTokenStore } from './tokens/memory-store.js';
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
export type { Clock } from './tokens/clock.js';
export { OAuthClient } from './oauth-client.js';
export type { OAuthClientOptions, TokenSet } from './oauth-client.js';

// Express: the middleware, the error handler, Sign out and Disconnect.
export { samsara, samsaraErrorHandler } from './express.js';
export type { SamsaraRequestContext, SamsaraMiddlewareOptions, SamsaraErrorHandlerOptions } from './express.js';
export type { SamsaraClientOptions, ForOrgOptions } from './sdk.js';
export { samsaraSignOut, samsaraDisconnect } from './sign-out.js';
export type { SamsaraSignOutOptions, SamsaraDisconnectOptions } from './sign-out.js';
// Deprecated, kept for one minor release: samsaraLogout disconnects (see samsaraDisconnect).
// eslint-disable-next-line @typescript-eslint/no-deprecated
export { samsaraLogout, type SamsaraLogoutOptions } from './sign-out.js';

// Webhooks: verifying a delivery, the Express receiver, the upkeep (the rest: /webhooks).
export { verifySamsaraWebhook, samsaraWebhooks, organizationWebhooks } from './webhooks/index.js';
export type {
  VerifySamsaraWebhookOptions,
  WebhookHeaders,
  SamsaraWebhookEvent,
  SamsaraWebhookEventType,
  SamsaraWebhooksOptions,
  SamsaraWebhookHandler,
  SamsaraWebhookHandlers,
  WebhookSecrets,
  OrganizationWebhooksOptions,
} from './webhooks/index.js';

// Rate limits: what a fleet configures (the limiter itself and the other backends: /rate-limit).
export { RedisRateLimiter, SAMSARA_ENDPOINT_LIMITS } from './rate-limit/index.js';
export type {
  RateLimitOptions,
  EndpointRateLimit,
  RateLimiterBackend,
  RedisRateLimiterOptions,
} from './rate-limit/index.js';

// Errors and events: the base error and the one an app handles itself (every kind: /errors),
// and the diagnostics channels.
export { SamsaraError, ReauthorizationRequiredError } from './errors/index.js';
export type { SamsaraErrorCode } from './errors/index.js';
export { samsaraErrorOf } from './sdk.js';
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
