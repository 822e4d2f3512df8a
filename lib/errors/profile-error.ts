import { SamsaraError, type SamsaraErrorOptions } from './samsara-error.js';

/**
 * `GET /me` failed after sign-in. `SAMSARA_PROFILE_FORBIDDEN` (403) means the app lacks the
 * "Read Org Information" scope; `SAMSARA_PROFILE_UNAUTHORIZED` (502) that Samsara rejected the token
 * it had just issued; `SAMSARA_PROFILE_FAILED` (502, the default) any other failure.
 *
 * @example
 * ```ts
 * if (err instanceof ProfileError && err.code === 'SAMSARA_PROFILE_FORBIDDEN') showScopeHelp();
 * ```
 */
export class ProfileError extends SamsaraError {
  /** The HTTP status `/me` answered with, when it answered. */
  readonly upstreamStatus: number | undefined;

  constructor(
    message: string,
    options: SamsaraErrorOptions & {
      code?: 'SAMSARA_PROFILE_UNAUTHORIZED' | 'SAMSARA_PROFILE_FORBIDDEN' | 'SAMSARA_PROFILE_FAILED';
      upstreamStatus?: number;
    } = {},
  ) {
    const code = options.code ?? 'SAMSARA_PROFILE_FAILED';
    super(message, { cause: options.cause, code, status: code === 'SAMSARA_PROFILE_FORBIDDEN' ? 403 : 502 });
    this.upstreamStatus = options.upstreamStatus;
  }
}
