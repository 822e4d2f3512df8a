import type { Request } from 'express';
import OAuth2Strategy, { TokenError } from 'passport-oauth2';
import { ConfigurationError, SamsaraError, TokenRejectedError, UpstreamError } from './errors/index.js';
import type { OAuthClient, TokenSet } from './oauth-client.js';
import { fetchProfile, type SamsaraProfile } from './profile.js';
import { restoresSessions } from './session-lifetime.js';
import { SessionStateStore } from './state-store.js';
import { TokenManager } from './tokens/manager.js';
import { verifyState, type StateVerifier } from './callback-state.js';
import {
  CLIENT_OPTIONS,
  clientOptionsOf,
  type SamsaraStrategyOptions,
  type SamsaraStrategyOptionsWithRequest,
} from './strategy-options.js';
import {
  adaptVerify,
  namesOnly,
  type AnyVerify,
  type SamsaraVerify,
  type SamsaraVerifyAsync,
  type SamsaraVerifyWithRequest,
  type VerifyForm,
  type WithRequest,
} from './verify.js';

type ExchangeCode = (
  code: string,
  params: { redirect_uri?: string; code_verifier?: string },
  callback: (err: unknown, accessToken?: string, refreshToken?: string, params?: Record<string, unknown>) => void,
) => void;

/**
 * Passport strategy for Samsara OAuth 2.0: a passport-oauth2 `OAuth2Strategy` that knows Samsara's
 * URLs and regions, authenticates to the token endpoint with HTTP Basic, bounds every request with
 * a timeout and fetches the organization from `GET /me`. It keeps the grant itself: once verify
 * accepts a sign-in (whatever its form), the grant is connected in the token manager
 * (`strategy.tokens`) under the organization id before passport logs in; a sign-in that fails or
 * is refused after the code exchange lets its grant go (`tokens.discard`). No grant is left live
 * and unheld, and no token reaches the session. The default verify signs in `{ orgId, orgName }`.
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
 * new SamsaraStrategy({
 *   tokens,
 *   verify: async ({ profile }) => {
 *     if (!(await accounts.allows(profile.id))) return false; // refused: the grant is let go
 *     return { orgId: profile.id, orgName: profile.displayName }; // accepted: the grant is kept
 *   },
 * });
 * ```
 *
 * @throws `ConfigurationError` from the constructor for a missing client id or secret (option or
 * environment variable, named), an unknown region, a bad `baseURL`, or `tokens` given together with
 * the client options it replaces.
 */
export class SamsaraStrategy extends OAuth2Strategy {
  /** The token manager that owns the grants this strategy receives: share it with `samsara()`. */
  readonly tokens: TokenManager;
  // TS-private, not #private: passport calls authenticate on Object.create(strategy) per request,
  // and a #private member fails its brand check there.
  private readonly callbackPath: string;
  private readonly callbackURL: string;
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
    if (verify && options.verify) {
      throw new ConfigurationError('Pass verify either as the verify option or as the second argument, not both.');
    }
    const tokens = options.tokens ?? new TokenManager({ client: clientOptionsOf(options) });
    if (options.tokens && CLIENT_OPTIONS.some((name) => name !== 'region' && options[name] !== undefined)) {
      throw new ConfigurationError(
        `Pass either tokens or the client options (${CLIENT_OPTIONS.join(', ')}), not both: with tokens, its client is the one used (region picks which).`,
      );
    }
    const oauthClient = tokens.clientFor({ region: options.region });
    if (!verify && options.skipUserProfile) {
      throw new ConfigurationError(
        'The grant is kept under the organization id, which the profile gives: skipUserProfile needs a passport-style verify whose user carries orgId.',
      );
    }
    if (options.pkce && options.state === false) {
      throw new ConfigurationError(
        'PKCE keeps its verifier with the state: pkce needs state, so it cannot be used with state: false.',
      );
    }
    const form: VerifyForm = verify
      ? { passport: verify, passReq: options.passReqToCallback === true }
      : { object: options.verify ?? namesOnly };
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
        // Always: the wrapper hands the request on, or not, as the app's verify form wants.
        passReqToCallback: true as false,
      },
      adaptVerify(form, tokens) as OAuth2Strategy.VerifyFunction,
    );
    this.name = name;
    this.tokens = tokens;
    this.callbackURL = callbackURL;
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
   * would loop), and one that carries an `error` but a `state` this browser's session does not
   * hold (400: anyone can send that), then lets passport-oauth2 do the rest. A sign-in that
   * succeeds first gives its session back the lifetime its pending sign-ins cut (see
   * `SessionStateStore`), before passport logs in: with `keepSessionInfo`, passport carries the old
   * session's cookie into the new one.
   */
  override authenticate(req: Request, options: Record<string, unknown> = {}): void {
    // passport also runs outside Express, where the request may have no parsed query or body.
    const query = (req.query as Record<string, unknown> | undefined) ?? {};
    const body = (req.body as Record<string, unknown> | undefined) ?? {};
    if (query.error !== undefined) {
      const store = (this as unknown as { _stateStore: StateVerifier })._stateStore;
      const callbackURL = typeof options.callbackURL === 'string' ? options.callbackURL : this.callbackURL;
      const { authorizationURL, tokenURL } = this.oauthClient.endpoints;
      const meta = { authorizationURL, tokenURL, clientID: this.oauthClient.clientID, callbackURL };
      verifyState(store, req, query.state ?? body.state, meta, (err, ok) => {
        if (err) this.error(err);
        else if (!ok) this.fail({ message: UNVERIFIED_ERROR }, 400);
        else super.authenticate(req, options);
      });
      return;
    }
    if (!query.code && !body.code && (query.state !== undefined || this.isCallback(req, options))) {
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

const UNVERIFIED_ERROR =
  'Samsara redirected back with an error, for a sign-in this browser did not start (its state is missing, forged, spent or expired). Sign in again.';

/** The path of an absolute or relative URL. */
function pathOf(url: string): string {
  return new URL(url, 'http://callback.invalid').pathname;
}
