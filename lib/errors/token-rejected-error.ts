import { SamsaraError } from './samsara-error.js';

/**
 * The token endpoint refused a request with an RFC 6749 §5.2 error (`oauthError`, e.g.
 * `invalid_grant` or `invalid_client`). The token manager handles `invalid_grant` itself
 * (`ReauthorizationRequiredError`) and retries the `transient` ones; during sign-in the strategy
 * hands it to passport as passport-oauth2's `TokenError`. `status` is 400 for a refused sign-in
 * code, 500 for a rejected client (check the client id and secret), 502 otherwise.
 *
 * @example
 * ```ts
 * if (err instanceof TokenRejectedError && err.oauthError === 'invalid_client') alertOps('check SAMSARA_CLIENT_SECRET');
 * ```
 */
export class TokenRejectedError extends SamsaraError {
  /** The `error` field of the token endpoint's answer, e.g. `invalid_client`. */
  readonly oauthError: string;
  /** Samsara's `error_description`, when it sent one (printable characters only, at most 200). */
  readonly description: string | undefined;
  /** The HTTP status of the token endpoint's answer. */
  readonly upstreamStatus: number;
  /** Whether a retry may succeed: Samsara answered 5xx or `temporarily_unavailable`. */
  readonly transient: boolean;

  constructor(
    message: string,
    options: {
      oauthError: string;
      description?: string | undefined;
      upstreamStatus: number;
      status: number;
      transient: boolean;
    },
  ) {
    super(message, { code: 'SAMSARA_TOKEN_REJECTED', status: options.status });
    this.oauthError = options.oauthError;
    this.description = options.description;
    this.upstreamStatus = options.upstreamStatus;
    this.transient = options.transient;
  }
}
