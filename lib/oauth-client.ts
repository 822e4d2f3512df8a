import { TokenError } from 'passport-oauth2';
import { resolveEndpoints, type SamsaraEndpoints, type SamsaraRegion } from './endpoints.js';
import { BadResponseError, ConfigurationError, RevokeFailed, UpstreamError } from './errors.js';
import { asRecord, boundedFetch, parseJSON, type BoundedResponse } from './http.js';
import { numberOption } from './options.js';

/**
 * How to reach Samsara's token endpoint. Unset values come from the environment
 * (`SAMSARA_CLIENT_ID`, `SAMSARA_CLIENT_SECRET`, `SAMSARA_REGION`, `SAMSARA_BASE_URL`).
 *
 * @example
 * ```ts
 * const client = new OAuthClient({ region: 'eu', timeout: 5_000 } satisfies OAuthClientOptions);
 * ```
 */
export interface OAuthClientOptions {
  clientID?: string;
  clientSecret?: string;
  region?: SamsaraRegion;
  /** One URL from which the authorize, token, revoke and API URLs derive (a proxy, the emulator). */
  baseURL?: string;
  /** Milliseconds each request may take, body included. Default 10 000. */
  timeout?: number;
  /** The largest response body accepted, in bytes. Default 64 KiB. */
  maxResponseBytes?: number;
}

/**
 * A successful token response, with the expiry computed once, at receipt.
 *
 * @example
 * ```ts
 * const set = await client.refresh(creds.refreshToken);
 * new Date(set.expiresAt); // receipt time + expires_in
 * ```
 */
export interface TokenSet {
  accessToken: string;
  refreshToken: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  scope?: string;
  /** The response as Samsara sent it. */
  raw: Record<string, unknown>;
}

const DEFAULT_TIMEOUT = 10_000;
const DEFAULT_MAX_BYTES = 64 * 1024;

/**
 * Samsara's token endpoint: code exchange, refresh and revocation. The client authenticates with
 * HTTP Basic only (RFC 6749 §2.3.1: one method per request, so the secret never rides in the
 * body), every request has a deadline, and every answer is validated before anything is kept.
 * An RFC 6749 §5.2 error body becomes passport-oauth2's `TokenError` (its `code` is the OAuth
 * `error`, e.g. `invalid_grant`).
 *
 * @example
 * ```ts
 * const client = new OAuthClient({ clientID, clientSecret, region: 'eu' });
 * const tokens = await client.refresh(refreshToken);
 * ```
 */
export class OAuthClient {
  readonly endpoints: SamsaraEndpoints;
  readonly clientID: string;
  readonly timeout: number;
  readonly maxResponseBytes: number;
  readonly #authorization: string;

  constructor(options: OAuthClientOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    const clientID = options.clientID ?? env.SAMSARA_CLIENT_ID;
    const clientSecret = options.clientSecret ?? env.SAMSARA_CLIENT_SECRET;
    const missing = [
      !clientID && 'the clientID option (or the SAMSARA_CLIENT_ID environment variable)',
      !clientSecret && 'the clientSecret option (or the SAMSARA_CLIENT_SECRET environment variable)',
    ].filter(Boolean);
    if (missing.length > 0) {
      throw new ConfigurationError(
        `Samsara needs ${missing.join(' and ')}: copy them from your app's page in the Samsara dashboard.`,
      );
    }
    this.timeout = numberOption('Samsara', 'timeout', options.timeout, DEFAULT_TIMEOUT);
    this.maxResponseBytes = numberOption('Samsara', 'maxResponseBytes', options.maxResponseBytes, DEFAULT_MAX_BYTES);
    this.endpoints = resolveEndpoints(options, env);
    this.clientID = clientID as string;
    // Samsara's recipe and samples send id:secret as they are, without RFC 6749 §2.3.1's form
    // encoding; the two agree for the URL-safe characters Samsara's credentials use.
    this.#authorization = `Basic ${Buffer.from(`${clientID}:${clientSecret}`).toString('base64')}`;
  }

  /** Exchanges an authorization code (RFC 6749 §4.1.3); `redirectURI` must be the one sent to authorize. */
  async exchangeCode(code: string, params: { redirectURI?: string; codeVerifier?: string } = {}): Promise<TokenSet> {
    const form: Record<string, string> = { grant_type: 'authorization_code', code };
    if (params.redirectURI) form.redirect_uri = params.redirectURI;
    if (params.codeVerifier) form.code_verifier = params.codeVerifier;
    return this.#token(form);
  }

  /** Refreshes (RFC 6749 §6). Samsara rotates refresh tokens: the one passed in is dead afterwards. */
  async refresh(refreshToken: string): Promise<TokenSet> {
    return this.#token({ grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  /**
   * Revokes a grant by its refresh token (RFC 7009). Samsara revokes the access tokens with it.
   * Throws `RevokeFailed` unless Samsara answers 200.
   */
  async revoke(refreshToken: string): Promise<void> {
    let response: BoundedResponse;
    try {
      response = await this.#post(this.endpoints.revocationURL, { token: refreshToken }, "Samsara's revoke endpoint");
    } catch (err) {
      throw new RevokeFailed(`Revoking the Samsara grant failed: ${(err as Error).message}`, { cause: err });
    }
    if (response.status !== 200) {
      throw new RevokeFailed(`Samsara's revoke endpoint answered HTTP ${response.status}.${describeOAuthError(response)}`);
    }
  }

  async #token(form: Record<string, string>): Promise<TokenSet> {
    const what = "Samsara's token endpoint";
    const response = await this.#post(this.endpoints.tokenURL, form, what);
    const receivedAt = Date.now();
    const json = asRecord(parseJSON(response.body));
    if (response.status !== 200) {
      if (typeof json?.error === 'string') {
        throw new TokenError(
          typeof json.error_description === 'string' ? json.error_description : undefined,
          json.error,
          typeof json.error_uri === 'string' ? json.error_uri : undefined,
          tokenErrorStatus(json.error, response.status),
        );
      }
      throw new UpstreamError('SAMSARA_UPSTREAM', `${what} answered HTTP ${response.status} without an OAuth error.`, {
        upstreamStatus: response.status,
      });
    }
    if (!json) throw new BadResponseError(`${what} answered 200 with a body that is not a JSON object.`);
    const accessToken = json.access_token;
    const expiresIn = Number(json.expires_in);
    const refreshToken = json.refresh_token;
    if (typeof accessToken !== 'string' || accessToken === '') {
      throw new BadResponseError(`${what} answered 200 without an access_token.`);
    }
    if (json.expires_in === undefined || json.expires_in === null || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw new BadResponseError(`${what} answered 200 without a positive expires_in.`);
    }
    if (typeof refreshToken !== 'string' || refreshToken === '') {
      throw new BadResponseError(`${what} answered 200 without a refresh_token.`);
    }
    if (json.token_type !== undefined && String(json.token_type).toLowerCase() !== 'bearer') {
      throw new BadResponseError(`${what} issued a token of type "${String(json.token_type)}", not Bearer.`);
    }
    return {
      accessToken,
      refreshToken,
      expiresAt: receivedAt + expiresIn * 1000,
      ...(typeof json.scope === 'string' ? { scope: json.scope } : {}),
      raw: json,
    };
  }

  #post(url: string, form: Record<string, string>, what: string): Promise<BoundedResponse> {
    return boundedFetch(
      url,
      {
        method: 'POST',
        headers: {
          authorization: this.#authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: new URLSearchParams(form).toString(),
      },
      { timeout: this.timeout, maxBytes: this.maxResponseBytes, what },
    );
  }
}

/**
 * Whether a token request failure is worth retrying: no answer, an HTTP error without an OAuth
 * body, or an OAuth error Samsara answered with a 5xx or `temporarily_unavailable`.
 *
 * @example
 * ```ts
 * if (isTransient(err)) retryLater();
 * ```
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof UpstreamError) {
    const status = err.upstreamStatus;
    return status === undefined || status >= 500 || status === 408 || status === 429;
  }
  return err instanceof TokenError && (err.status === UPSTREAM_FAILED || err.code === 'temporarily_unavailable');
}

/**
 * The OAuth `error` (e.g. `invalid_grant`) of a token endpoint refusal, or undefined.
 *
 * @example
 * ```ts
 * if (oauthErrorOf(err) === 'invalid_grant') askToSignInAgain();
 * ```
 */
export function oauthErrorOf(err: unknown): string | undefined {
  return err instanceof TokenError ? err.code : undefined;
}

/** The status of a TokenError Samsara answered with a 5xx: a bad gateway, from our side. */
const UPSTREAM_FAILED = 502;

/** The HTTP status our app should answer with when the token endpoint refuses. */
function tokenErrorStatus(error: string, upstreamStatus: number): number {
  if (upstreamStatus >= 500) return UPSTREAM_FAILED;
  // A rejected client is our configuration's fault, not the visitor's.
  if (error === 'invalid_client' || error === 'unauthorized_client') return 500;
  return 400;
}

function describeOAuthError(response: BoundedResponse): string {
  const error = asRecord(parseJSON(response.body))?.error;
  return typeof error === 'string' ? ` (${error})` : '';
}
