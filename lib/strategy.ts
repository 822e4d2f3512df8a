import type { Request } from 'express';
import OAuth2Strategy, { TokenError } from 'passport-oauth2';
import type { SamsaraRegion } from './endpoints.js';
import { ConfigurationError, SamsaraError, TokenRejectedError, UpstreamError } from './errors/index.js';
import type { OAuthClient, TokenSet } from './oauth-client.js';
import { fetchProfile, type SamsaraProfile } from './profile.js';
import { restoresSessions } from './session-lifetime.js';
import { SessionStateStore } from './state-store.js';
import { TokenManager } from './tokens/manager.js';
import {
  adaptVerify,
  connectGrant,
  type AnyVerify,
  type SamsaraVerify,
  type SamsaraVerifyAsync,
  type SamsaraVerifyWithRequest,
  type WithRequest,
} from './verify.js';

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
   * The token manager that owns the organizations' grants: the default verify connects them
   * there, and a sign-in that fails or is refused lets its grant go there. Default: a manager on
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

type ExchangeCode = (
  code: string,
  params: { redirect_uri?: string; code_verifier?: string },
  callback: (err: unknown, accessToken?: string, refreshToken?: string, params?: Record<string, unknown>) => void,
) => void;

/**
 * Passport strategy for Samsara OAuth 2.0: a passport-oauth2 `OAuth2Strategy` that knows Samsara's
 * URLs and regions, authenticates to the token endpoint with HTTP Basic, bounds every request with
 * a timeout and fetches the organization from `GET /me`. Without a verify callback it connects
 * the grant in its token manager (`strategy.tokens`) under the organization id and signs in
 * `{ orgId, orgName }`, so no token reaches the session. A sign-in that fails or is refused after
 * the code exchange lets its grant go (`tokens.discard`): no grant is left live and unheld.
 *
 * @example
 * ```ts
 * // SAMSARA_CLIENT_ID and SAMSARA_CLIENT_SECRET set in the environment:
 * passport.use(new SamsaraStrategy());
 * app.get('/auth/samsara', passport.authenticate('samsara'));
 * app.get('/auth/samsara/callback', passport.authenticate('samsara', { failureRedirect: '/' }), (req, res) => res.redirect('/'));
 * ```
 * @example
 * ```ts
 * const strategy = new SamsaraStrategy({ tokens }, async (accessToken: string, refreshToken: string, params: SamsaraTokenParams, profile: SamsaraProfile, done: VerifyDone) => {
 *   if (!(await accounts.allows(profile.id))) return false; // refused: the grant is let go
 *   await strategy.tokens.connect(profile.id, params);
 *   return { orgId: profile.id, orgName: profile.displayName };
 * });
 * ```
 */
export class SamsaraStrategy extends OAuth2Strategy {
  /** The token manager that owns the grants this strategy receives: share it with `samsara()`. */
  readonly tokens: TokenManager;
  // TS-private, not #private: passport calls authenticate on Object.create(strategy) per request,
  // and a #private member fails its brand check there.
  private readonly callbackPath: string;
  /** The app (region) this strategy signs in with: `tokens.clientFor({ region })`. */
  private readonly oauthClient: OAuthClient;
  /** The state store, when it is this package's: a successful sign-in gives the session its lifetime back. */
  private readonly signIns: SessionStateStore | undefined;

  // TypeScript types an inline callback's parameters from the first overload it tries, so the
  // (accessToken, refreshToken, profile) form comes first and needs no annotations; the other
  // forms annotate their parameters. Unified into one signature, that inference would be lost.
  /* eslint-disable @typescript-eslint/unified-signatures */
  constructor(options?: SamsaraStrategyOptions);
  constructor(verify: SamsaraVerifyAsync);
  constructor(verify: SamsaraVerify);
  constructor(options: SamsaraStrategyOptions, verify: SamsaraVerifyAsync);
  constructor(options: SamsaraStrategyOptions, verify: SamsaraVerify);
  constructor(options: SamsaraStrategyOptionsWithRequest, verify: WithRequest<SamsaraVerifyAsync>);
  constructor(options: SamsaraStrategyOptionsWithRequest, verify: SamsaraVerifyWithRequest);
  /* eslint-enable @typescript-eslint/unified-signatures */
  constructor(
    optionsOrVerify?: SamsaraStrategyOptions | SamsaraStrategyOptionsWithRequest | SamsaraVerify,
    maybeVerify?: SamsaraVerify | SamsaraVerifyWithRequest,
  ) {
    const verify = (typeof optionsOrVerify === 'function' ? optionsOrVerify : maybeVerify) as AnyVerify | undefined;
    const options = typeof optionsOrVerify === 'function' ? {} : (optionsOrVerify ?? {});
    const tokens = options.tokens ?? new TokenManager({ client: clientOptionsOf(options) });
    if (options.tokens && CLIENT_OPTIONS.some((name) => name !== 'region' && options[name] !== undefined)) {
      throw new ConfigurationError(
        `Pass either tokens or the client options (${CLIENT_OPTIONS.join(', ')}), not both: with tokens, its client is the one used (region picks which).`,
      );
    }
    const oauthClient = tokens.clientFor({ region: options.region });
    if (!verify && options.skipUserProfile) {
      throw new ConfigurationError(
        'The default verify keys credentials by organization id: it needs the profile, so skipUserProfile cannot be true without a verify callback.',
      );
    }
    if (options.pkce && options.state === false) {
      throw new ConfigurationError(
        'PKCE keeps its verifier with the state: pkce needs state, so it cannot be used with state: false.',
      );
    }
    const passReq = options.passReqToCallback === true;
    const callbackURL = options.callbackURL ?? process.env.SAMSARA_CALLBACK_URL ?? '/auth/samsara/callback';
    const pkce = options.pkce === true ? 'S256' : options.pkce || undefined;
    const name = options.name ?? 'samsara';
    const sessionKey = options.sessionKey ?? `oauth2:${name}`;
    const stateStore =
      options.state === false ? undefined : (options.store ?? new SessionStateStore({ key: sessionKey }));
    super(
      {
        clientID: oauthClient.clientID,
        clientSecret: 'unused: token requests are made by OAuthClient',
        authorizationURL: oauthClient.endpoints.authorizationURL,
        tokenURL: oauthClient.endpoints.tokenURL,
        callbackURL,
        state: options.state !== false,
        // @types/passport-oauth2 knows only the 2- and 3-argument store; passport-oauth2 itself
        // dispatches on arity and takes the 5-argument one, with its PKCE verifier.
        ...(stateStore ? { store: stateStore as OAuth2Strategy.StateStore } : {}),
        ...(pkce ? { pkce: pkce as unknown as boolean } : {}),
        sessionKey,
        proxy: options.proxy,
        skipUserProfile: options.skipUserProfile ?? false,
        passReqToCallback: passReq as false,
      },
      adaptVerify(verify ?? connectGrant(tokens), passReq, tokens) as OAuth2Strategy.VerifyFunction,
    );
    this.name = name;
    this.tokens = tokens;
    this.callbackPath = pathOf(callbackURL);
    this.oauthClient = oauthClient;
    this.signIns = stateStore instanceof SessionStateStore ? stateStore : undefined;
    if (this.signIns) restoresSessions(this.signIns);
    // passport-oauth2 would send the code through node-oauth, which puts the secret in the body and
    // has no timeout: the exchange is ours.
    (this._oauth2 as unknown as { getOAuthAccessToken: ExchangeCode }).getOAuthAccessToken = (
      code,
      params,
      callback,
    ) => {
      oauthClient.exchangeCode(code, { redirectURI: params.redirect_uri, codeVerifier: params.code_verifier }).then(
        (set: TokenSet) => {
          // The grant remembers the region whose app issued it: its refreshes go there.
          const { region } = oauthClient;
          // /me comes next; if it fails, nobody will keep this grant, so it is let go then.
          if (!options.skipUserProfile) this.pendingGrants.set(set.accessToken, { ...set, region });
          callback(null, set.accessToken, set.refreshToken, { ...set.raw, expires_at: set.expiresAt, region });
        },
        (err: unknown) => callback(err),
      );
    };
  }

  /** Sign-ins between the code exchange and `/me`, by access token. */
  private readonly pendingGrants = new Map<string, TokenSet>();

  /**
   * Fails a callback that carries no code (instead of passport-oauth2's restart of the flow, which
   * would loop), then lets passport-oauth2 do the rest. A sign-in that succeeds first gives its
   * session back the lifetime its pending sign-ins cut (see `SessionStateStore`), before passport
   * logs in: with `keepSessionInfo`, passport carries the old session's cookie into the new one.
   */
  override authenticate(req: Request, options: Record<string, unknown> = {}): void {
    // passport also runs outside Express, where the request may have no parsed query or body.
    const query = (req.query as Record<string, unknown> | undefined) ?? {};
    const body = (req.body as Record<string, unknown> | undefined) ?? {};
    if (!query.error && !query.code && !body.code && (query.state !== undefined || this.isCallback(req, options))) {
      this.fail({ message: 'Samsara redirected back without an authorization code. Sign in again.' }, 400);
      return;
    }
    // passport gives each request its own success on an object of its own; never wrap a shared one.
    const { signIns } = this;
    if (signIns && Object.hasOwn(this, 'success')) {
      const success = this.success.bind(this);
      this.success = (user, info) => {
        signIns.signedIn(req);
        success(user, info);
      };
    }
    super.authenticate(req, options);
  }

  /**
   * `GET {base}/me` with the access token. Errors carry a stable code: `SAMSARA_PROFILE_FORBIDDEN`
   * (the app lacks the "Read Org Information" scope), `SAMSARA_PROFILE_UNAUTHORIZED`,
   * `SAMSARA_PROFILE_FAILED`.
   */
  override userProfile(accessToken: string, done: (err?: unknown, profile?: SamsaraProfile) => void): void {
    const grant = this.pendingGrants.get(accessToken);
    this.pendingGrants.delete(accessToken);
    fetchProfile(this.oauthClient, accessToken).then(
      (profile) => done(null, profile),
      (err: unknown) => {
        // A grant whose sign-in failed here would stay live at Samsara, held by no one. Its
        // organization never became known, so it is revoked.
        if (grant) this.tokens.discard(undefined, grant).catch(() => undefined);
        done(err);
      },
    );
  }

  /**
   * At the passport boundary: a refusal of the code exchange becomes passport-oauth2's
   * `TokenError` (as any passport-oauth2 strategy reports it), this package's other errors pass
   * as they are.
   */
  protected _createOAuthError(message: string, err: unknown): Error {
    if (err instanceof TokenRejectedError) {
      return new TokenError(err.description ?? err.message, err.oauthError, undefined, err.status);
    }
    if (err instanceof SamsaraError) return err;
    return new UpstreamError(`${message}: ${err instanceof Error ? err.message : 'unknown error'}`, {
      code: 'SAMSARA_UNREACHABLE',
      cause: err,
    });
  }

  private isCallback(req: Request, options: Record<string, unknown>): boolean {
    // originalUrl is Express's; plain Node requests have only url.
    const path = ((req.originalUrl as string | undefined) ?? req.url).split('?')[0];
    const callbackPath = typeof options.callbackURL === 'string' ? pathOf(options.callbackURL) : this.callbackPath;
    return path === callbackPath;
  }
}

/** The client options a strategy passes to the token manager it builds. */
const CLIENT_OPTIONS = ['clientID', 'clientSecret', 'region', 'baseURL', 'timeout'] as const;

function clientOptionsOf(options: SamsaraStrategyOptions | SamsaraStrategyOptionsWithRequest) {
  return Object.fromEntries(
    CLIENT_OPTIONS.flatMap((name) => (options[name] === undefined ? [] : [[name, options[name]]])),
  );
}

/** The path of an absolute or relative URL. */
function pathOf(url: string): string {
  return new URL(url, 'http://callback.invalid').pathname;
}
