// passport-samsara/store: what a token store implementer needs. The contract's types, and the
// contract itself as tests to run against a store of one's own (MySQL, DynamoDB, ...).
export type {
  TokenStore,
  LockHandle,
  DueRead,
  StoreWatch,
  StoreHealth,
  Claim,
  ClaimOutcome,
  RevokedGrant,
  OrganizationStatus,
  StoredWebhook,
} from '../tokens/store.js';
export type { Credentials, NewCredentials, GrantTokens } from '../tokens/credentials.js';
export { runTokenStoreContract } from './contract.js';
export { realTime } from './contract-support.js';
export type { ContractBackend, ContractFramework, ContractTime } from './contract-support.js';
