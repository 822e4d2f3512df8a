import { SamsaraError, type SamsaraErrorOptions } from './samsara-error.js';

/**
 * Samsara could not be reached (`SAMSARA_UNREACHABLE`, 502), did not answer within the configured
 * `timeout` (`SAMSARA_TIMEOUT`, 504), or failed with an HTTP error and no OAuth error body
 * (`SAMSARA_UPSTREAM`, 502, the default). All three are worth a retry.
 *
 * @example
 * ```ts
 * if (err instanceof UpstreamError && err.code === 'SAMSARA_TIMEOUT') retryLater();
 * ```
 */
export class UpstreamError extends SamsaraError {
  /** The HTTP status Samsara answered with, when it answered. */
  readonly upstreamStatus: number | undefined;

  constructor(
    message: string,
    options: SamsaraErrorOptions & {
      code?: 'SAMSARA_UNREACHABLE' | 'SAMSARA_TIMEOUT' | 'SAMSARA_UPSTREAM';
      upstreamStatus?: number;
    } = {},
  ) {
    const code = options.code ?? 'SAMSARA_UPSTREAM';
    super(message, { cause: options.cause, code, status: code === 'SAMSARA_TIMEOUT' ? 504 : 502 });
    this.upstreamStatus = options.upstreamStatus;
  }
}
