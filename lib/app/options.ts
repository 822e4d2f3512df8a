import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { ConfigurationError } from '../errors/index.js';
import type { SamsaraStrategyOptions } from '../strategy-options.js';
import type { SealingKey } from '../tokens/seal.js';
import type { LifecycleHooks } from '../tokens/lifecycle.js';
import { EMULATOR_CLIENT_ID } from '../emulator-client.js';
import type { SamsaraWebhookHandlers } from '../webhooks/receiver-options.js';
import type { SamsaraProfile } from '../profile.js';
import type { OAuthClient } from '../oauth-client.js';
import type { TokenManager } from '../tokens/manager.js';
import type { SamsaraAppAccount } from './account.js';
import type { SamsaraAppBrand } from './brand.js';
import type { SamsaraAppLog } from './failure-log.js';

/**
 * What the app needs of an ioredis client (standalone or Cluster) for its sessions and `/readyz`.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * const redis: SamsaraAppRedis = new Redis(process.env.REDIS_URL!);
 * createSamsaraApp({ tokens, redis });
 * ```
 */
export interface SamsaraAppRedis {
  ping(): Promise<string>;
}

/**
 * Options of {@link createSamsaraApp}.
 *
 * @example
 * ```ts
 * const options: SamsaraAppOptions = {
 *   tokens: new TokenManager({ store: new RedisTokenStore({ client: redis }) }),
 *   redis,
 *   sessionSecret: process.env.SESSION_SECRET,
 *   verify: async (profile) => ((await accounts.allows(profile.id)) ? { plan: 'pro' } : false),
 * };
 * app.use('/integrations/samsara', createSamsaraApp(options));
 * ```
 */
export interface SamsaraAppOptions extends LifecycleHooks {
  /**
   * The token manager that owns the organizations' grants (its store, its client, its revocation
   * scope): share it with your jobs. Default: one on a `MemoryTokenStore` with a client from the
   * environment (`SAMSARA_CLIENT_ID`, `SAMSARA_CLIENT_SECRET`, `SAMSARA_REGION`, `SAMSARA_BASE_URL`).
   * The lifecycle hooks given here (`onConnect`, `onDisconnect`, `onReauthorizationRequired`) are
   * added to it: put them on the managers of your other processes too (see `LifecycleHooks`).
   */
  tokens?: TokenManager;
  /**
   * For an app with its own login: which of your accounts the organization belongs to, and where
   * your records of it are. The app then runs in your session (when one is on the request), signs
   * nobody in or out, and serves the organization your account connected to everyone signed in
   * to that account. Without it the app signs the organization in with a session of its own.
   */
  account?: SamsaraAppAccount;
  /** Your product's name, logo, stylesheet and a link back to it, on every page. */
  brand?: SamsaraAppBrand;
  /**
   * Seals the organization kept in each of the app's own sessions, so that whoever can write the
   * session store cannot switch a session to another organization: a keyring as
   * `RedisTokenStore` takes it (`"<id>:<base64>,..."`, newest first). Default:
   * `SAMSARA_SEALING_KEYS`. Required whenever the app talks to anything but the local emulator
   * (there, a random key per process), unless `account` is given.
   */
  sealingKeys?: string | readonly SealingKey[];
  /**
   * Your hook, called with the organization's profile before its credentials are kept: return what
   * joins `{ orgId, orgName }` in the session, or `false` to refuse the organization (its grant is
   * let go, nothing is kept).
   */
  verify?: (profile: SamsaraProfile, req: Request) => Promise<Record<string, unknown> | false>;
  /**
   * The absolute Redirect URL registered with the Samsara app. Default: `SAMSARA_CALLBACK_URL`,
   * else `<mount point>/auth/samsara/callback` on the request's own host.
   */
  callbackURL?: string;
  /**
   * Signs the session cookie; an array rotates (sign with the first, accept all). Default:
   * `SESSION_SECRET`. Required whenever the app talks to anything but the local emulator; on the
   * emulator a random one is made per process.
   */
  sessionSecret?: string | string[];
  /**
   * An ioredis client: sessions are kept there (connect-redis 8, which must be installed), and
   * `/readyz` answers 503 while it does not answer. Default: sessions in memory (one process).
   */
  redis?: SamsaraAppRedis;
  /**
   * Your own session middleware instead of the app's (then `sessionSecret`, `redis` sessions and
   * `cookieName` are yours to handle; `cookieName` must still name its cookie for Disconnect).
   */
  session?: RequestHandler;
  /**
   * The session cookie's name. Default: derived from the mount path (`samsara.sid` at the root,
   * `samsara.integrations.samsara.sid` at `/integrations/samsara`), so that two mounts in one host
   * keep their own sessions.
   */
  cookieName?: string;
  /** Origins besides the app's own whose pages may post Disconnect and Sign out (see `samsaraDisconnect`). */
  trustedOrigins?: readonly string[];
  /** Vehicles per page, 1 to 512. Default 50. */
  pageSize?: number;
  /** SamsaraStrategy's other options (PKCE, the state store...); the client is the manager's. */
  strategy?: Omit<
    SamsaraStrategyOptions,
    | 'tokens'
    | 'clientID'
    | 'clientSecret'
    | 'region'
    | 'baseURL'
    | 'timeout'
    | 'callbackURL'
    | 'passReqToCallback'
    | 'verify'
  >;
  /** Where log entries go. Default: one JSON line each on stderr. */
  log?: SamsaraAppLog;
  /**
   * Your handlers of the organizations' webhook events, by type (see `samsaraWebhooks`). The app
   * receives them at `POST /webhooks` when the manager keeps the organizations' webhooks
   * (`organizationWebhooks({ url: '<your origin><mount path>/webhooks' })`), and its home page
   * shows each organization's latest ones.
   */
  webhookHandlers?: SamsaraWebhookHandlers;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Whether the manager's client is the local emulator: its public test client id, on a loopback
 * host. Anything else is a real Samsara (or a proxy to one) and needs a real session secret.
 */
export function talksToEmulator(client: OAuthClient): boolean {
  const { hostname } = new URL(client.endpoints.baseURL);
  return client.clientID === EMULATOR_CLIENT_ID && LOOPBACK.has(hostname);
}

/** The session secret(s), or a ConfigurationError naming what to set. */
export function sessionSecretOf(options: SamsaraAppOptions, tokens: TokenManager): string | string[] {
  const secret = options.sessionSecret ?? process.env.SESSION_SECRET;
  const given = Array.isArray(secret) ? secret.length > 0 && secret.every((s) => s !== '') : !!secret;
  if (secret !== undefined && given) return secret;
  // Only when every client the manager may use is the emulator's: any real Samsara needs a secret.
  if ([tokens.client, ...tokens.clients.values()].every(talksToEmulator)) return randomBytes(32).toString('base64url');
  throw new ConfigurationError(
    'The Samsara app signs its session cookie with the sessionSecret option (or the SESSION_SECRET environment variable): set a long random value. Only the local emulator runs without one.',
  );
}

/** The configured absolute callback URL, or undefined to follow the mount point. */
export function callbackURLOf(options: SamsaraAppOptions): string | undefined {
  const url = options.callbackURL ?? process.env.SAMSARA_CALLBACK_URL;
  if (url === undefined || url === '') return undefined;
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new ConfigurationError(
      'callbackURL (or SAMSARA_CALLBACK_URL) must be the absolute http(s) Redirect URL registered with the Samsara app.',
    );
  }
  return url;
}
