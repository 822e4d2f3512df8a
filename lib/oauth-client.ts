import { regionOf, resolveEndpoints, type SamsaraEndpoints, type SamsaraRegion } from './endpoints.js';
import {
  BadResponseError,
  ConfigurationError,
  RevokeFailedError,
  TokenRejectedError,
  UpstreamError,
} from './errors/index.js';
import { asRecord, boundedRequest, parseJSON, type BoundedResponse } from './http.js';
import { numberOption } from './number-option.js';
import { redact } from './redact.js';
import type { GrantTokens } from './tokens/credentials.js';

/**
 * How to reach Samsara's token endpoint. Unset values come from the environment
 * (`SAMSARA_CLIENT_ID`, `SAMSARA_CLIENT_SECRET`, `SAMSARA_REGION`, `SAMSARA_BASE_URL`).
 *
 * @example
 * ```ts
 * const client = new OAuthClient({ region: 'eu', timeout: 5_000 });
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
export interface TokenSet extends GrantTokens {
  /** The response as Samsara sent it. */
  raw: Record<string, unknown>;
}

const DEFAULT_TIMEOUT = 10_000;
const DEFAULT_MAX_BYTES = 64 * 1024;

/**
 * Samsara's token endpoint: code exchange, refresh and revocation. The client authenticates with
 * HTTP Basic only (RFC 6749 §2.3.1: one method per request, so the secret never rides in the
 * body), every request has a deadline, and every answer is validated before anything is kept.
 * An RFC 6749 §5.2 error body becomes a `TokenRejectedError` (its `oauthError` is the OAuth
 * `error`, e.g. `invalid_grant`); the client knows nothing of passport.
 *
 * @example
 * ```ts
 * const client = new OAuthClient({ clientID, clientSecret, region: 'eu' });
 * const tokens = await client.refresh(refreshToken);
 * ```
 */
export class OAuthClient {
  readonly endpoints: SamsaraEndpoints;
  /**
   * The region this client's app belongs to: `region` (or `SAMSARA_REGION`), else `us`. With a
   * `baseURL` (a proxy, the emulator) it still names the region, which is how a manager with a
   * client per region routes an organization's calls.
   */
  readonly region: SamsaraRegion;
  readonly clientID: string;
  readonly timeout: number;
  readonly maxResponseBytes: number;
  readonly #authorization: string;
  /** Kept to redact it from what Samsara answers, should it ever repeat it. */
  readonly #secret: string;

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
    this.region = regionOf(options.region ?? env.SAMSARA_REGION);
    this.clientID = clientID as string;
    this.#secret = clientSecret as string;
    // Samsara's recipe and samples send id:secret as they are, without RFC 6749 §2.3.1's form
    // encoding; the two agree for the URL-safe characters Samsara's credentials use.
    this.#authorization = `Basic ${Buffer.from(`${clientID}:${clientSecret}`).toString('base64')}`;
  }

  /** Exchanges an authorization code (RFC 6749 §4.1.3); `redirectURI` must be the one sent to authorize. */
  async exchangeCode(code: string, params: { redirectURI?: string; codeVerifier?: string } = {}): Promise<TokenSet> {
    const form: Record<string, string> = { grant_type: 'authorization_code', code };
    if (params.redirectURI) form.redirect_uri = params.redirectURI;
    if (params.codeVerifier) form.code_verifier = params.codeVerifier;
    return this.#token(form, 'code');
  }

  /** Refreshes (RFC 6749 §6). Samsara rotates refresh tokens: the one passed in is dead afterwards. */
  async refresh(refreshToken: string): Promise<TokenSet> {
    return this.#token({ grant_type: 'refresh_token', refresh_token: refreshToken }, 'refresh');
  }

  /**
   * Revokes a grant by its refresh token (RFC 7009). Samsara revokes the access tokens with it.
   * Throws `RevokeFailedError` unless Samsara answers 200.
   */
  async revoke(refreshToken: string): Promise<void> {
    let response: BoundedResponse;
    try {
      response = await this.#post(this.endpoints.revocationURL, { token: refreshToken }, "Samsara's revoke endpoint");
    } catch (err) {
      throw new RevokeFailedError(`Revoking the Samsara grant failed: ${(err as Error).message}`, { cause: err });
    }
    if (response.status !== 200) {
      throw new RevokeFailedError(
        `Samsara's revoke endpoint answered HTTP ${response.status}.${describeOAuthError(response, [refreshToken, this.#secret])}`,
      );
    }
  }

  async #token(form: Record<string, string>, purpose: 'code' | 'refresh'): Promise<TokenSet> {
    const what = "Samsara's token endpoint";
    const response = await this.#post(this.endpoints.tokenURL, form, what);
    const receivedAt = Date.now();
    const json = asRecord(parseJSON(response.body));
    if (response.status !== 200) {
      // Whatever was sent may come back in the answer's text: it never reaches a message.
      const sent = [...Object.values(form), this.#secret];
      if (typeof json?.error === 'string') throw rejection(json, response.status, purpose, sent);
      throw new UpstreamError(`${what} answered HTTP ${response.status} without an OAuth error.`, {
        upstreamStatus: response.status,
      });
    }
    if (!json) throw new BadResponseError(`${what} answered 200 with a body that is not a JSON object.`);
    const accessToken = tokenValue(json.access_token, 'an access_token', what);
    const refreshToken = tokenValue(json.refresh_token, 'a refresh_token', what);
    const expiresIn = Number(json.expires_in);
    if (json.expires_in === undefined || json.expires_in === null || !(expiresIn > 0 && expiresIn <= MAX_EXPIRES_IN)) {
      throw new BadResponseError(`${what} answered 200 without an expires_in between 0 and ${MAX_EXPIRES_IN} seconds.`);
    }
    if (
      json.token_type !== undefined &&
      (typeof json.token_type !== 'string' || json.token_type.toLowerCase() !== 'bearer')
    ) {
      throw new BadResponseError(`${what} issued a token whose type is not Bearer.`);
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
    return boundedRequest(
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
 * body (5xx, 408, 429), or an OAuth error Samsara answered with a 5xx or `temporarily_unavailable`.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof UpstreamError) {
    const status = err.upstreamStatus;
    return status === undefined || status >= 500 || status === 408 || status === 429;
  }
  return err instanceof TokenRejectedError && err.transient;
}

/** The OAuth `error` (e.g. `invalid_grant`) of a token endpoint refusal, or undefined. */
export function oauthErrorOf(err: unknown): string | undefined {
  return err instanceof TokenRejectedError ? err.oauthError : undefined;
}

/**
 * RFC 6750 §2.1's b64token: what may stand after `Bearer ` in a header. Anything else (a CR/LF
 * above all) could forge a header or a log line, so it is refused, not escaped.
 */
const TOKEN_SYNTAX = /^[A-Za-z0-9\-._~+/]+=*$/;
const MAX_TOKEN_LENGTH = 4096;
/** A year: an `expires_in` beyond it is nonsense (`1e308` would be valid forever). */
const MAX_EXPIRES_IN = 366 * 24 * 3600;

/** `field` names the token with its article: "an access_token". */
function tokenValue(value: unknown, field: string, what: string): string {
  if (typeof value !== 'string' || value === '') throw new BadResponseError(`${what} answered 200 without ${field}.`);
  if (value.length > MAX_TOKEN_LENGTH || !TOKEN_SYNTAX.test(value)) {
    throw new BadResponseError(
      `${what} answered 200 with ${field} that is not an RFC 6750 token of at most ${MAX_TOKEN_LENGTH} characters.`,
    );
  }
  return value;
}

/** An RFC 6749 §5.2 error answer, as the status our app should answer with sees it. */
function rejection(
  json: Record<string, unknown>,
  upstreamStatus: number,
  purpose: 'code' | 'refresh',
  sent: readonly string[],
): TokenRejectedError {
  const error = printable(redact(json.error as string, sent), 64) || 'invalid_request';
  const transient = upstreamStatus >= 500 || error === 'temporarily_unavailable';
  let status = purpose === 'code' ? 400 : 502;
  // A rejected client is our configuration's fault, not the visitor's.
  if (error === 'invalid_client' || error === 'unauthorized_client') status = 500;
  if (transient) status = 502;
  const description =
    typeof json.error_description === 'string' ? printable(redact(json.error_description, sent), 200) : '';
  const message = `Samsara's token endpoint refused the request (${error}${description ? `: ${description}` : ''}).`;
  return new TokenRejectedError(message, {
    oauthError: error,
    description: description || undefined,
    upstreamStatus,
    status,
    transient,
  });
}

/** Printable ASCII only (RFC 6749 §5.2 allows no more), cut to `max`: it may reach a log line. */
function printable(text: string, max: number): string {
  return text.replace(/[^\x20-\x7e]/g, '').slice(0, max);
}

function describeOAuthError(response: BoundedResponse, sent: readonly string[]): string {
  const error = asRecord(parseJSON(response.body))?.error;
  return typeof error === 'string' ? ` (${printable(redact(error, sent), 64)})` : '';
}
