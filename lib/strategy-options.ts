import type OAuth2Strategy from 'passport-oauth2';
import type { SamsaraRegion } from './endpoints.js';
import type { SessionStateStore } from './state-store.js';
import type { TokenManager } from './tokens/manager.js';
import type { SamsaraVerifyFunction } from './verify.js';

/**
 * The options of {@link SamsaraStrategy}; every one may be left out.
 *
 * @example
 * ```ts
 * new SamsaraStrategy({ tokens, callbackURL: 'https://app.example.com/auth/samsara/callback' });
 * ```
 */
export interface SamsaraStrategyOptions {
  /**
   * Decides whether an organization may sign in: `async ({ profile, params, req }) => user | false`
   * (typed without annotations). The strategy keeps the grant of every sign-in verify accepts
   * (`tokens.connect(profile.id, params)`) before passport logs in, and lets go of a refused one.
   * Default: `{ orgId, orgName }`. Instead of the second argument (passport's verify forms).
   */
  verify?: SamsaraVerifyFunction;
  /**
   * The token manager that owns the organizations' grants: every accepted sign-in connects its
   * grant there, and a sign-in that fails or is refused lets its grant go there. Default: a manager on
   * a `MemoryTokenStore` with a client from the options below (`strategy.tokens`). With `tokens`,
   * the client options below must be left out: the manager's client is the one used.
   */
  tokens?: TokenManager;
  /**
   * The strategy's name for `passport.authenticate(name)`. Default `samsara`. An app with an app
   * per region uses one strategy per region, each with its own name and callback URL.
   */
  name?: string;
  /** Default: `SAMSARA_CLIENT_ID`. */
  clientID?: string;
  /** Default: `SAMSARA_CLIENT_SECRET`. */
  clientSecret?: string;
  /** Absolute, or relative to the request. Default: `SAMSARA_CALLBACK_URL`, else `/auth/samsara/callback`. */
  callbackURL?: string;
  /**
   * Default: `SAMSARA_REGION`, else `us`. With `tokens`, it picks which of the manager's clients
   * (`clients` option: one app per region) signs organizations in here; the grants remember it.
   */
  region?: SamsaraRegion;
  /** Overrides `region`: a proxy or the emulator. Default: `SAMSARA_BASE_URL`. */
  baseURL?: string;
  /** Milliseconds each request to Samsara may take. Default 10 000. */
  timeout?: number;
  /** Skip `GET /me` (the default verify needs it). */
  skipUserProfile?: boolean;
  /** PKCE (RFC 7636): Samsara does not document it, so it is off. `true` means `S256`. */
  pkce?: boolean | 'S256' | 'plain';
  /** The CSRF `state` check: on unless explicitly `false`. */
  state?: boolean;
  /**
   * Where pending sign-ins wait for their callback. Default: a `SessionStateStore` under
   * `sessionKey`, which keeps several per session (tabs, the back button, a Direct Install while
   * a Connect is pending), each single-use and with its own PKCE verifier.
   */
  store?: OAuth2Strategy.StateStore | SessionStateStore;
  /** The session key the pending sign-ins are kept under. Default `oauth2:<name>` (`oauth2:samsara`). */
  sessionKey?: string;
  /** Trust `X-Forwarded-*` when resolving a relative callback URL. */
  proxy?: boolean;
  passReqToCallback?: false;
}

/**
 * {@link SamsaraStrategyOptions} for a verify that takes the request first.
 *
 * @example
 * ```ts
 * new SamsaraStrategy({ passReqToCallback: true }, async (req: Request, accessToken: string, refreshToken: string, profile: SamsaraProfile) => ({ orgId: profile.id }));
 * ```
 */
export interface SamsaraStrategyOptionsWithRequest extends Omit<SamsaraStrategyOptions, 'passReqToCallback'> {
  passReqToCallback: true;
}

/** The client options a strategy passes to the token manager it builds. */
export const CLIENT_OPTIONS = ['clientID', 'clientSecret', 'region', 'baseURL', 'timeout'] as const;

export function clientOptionsOf(options: SamsaraStrategyOptions | SamsaraStrategyOptionsWithRequest) {
  return Object.fromEntries(
    CLIENT_OPTIONS.flatMap((name) => (options[name] === undefined ? [] : [[name, options[name]]])),
  );
}
