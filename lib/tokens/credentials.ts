/**
 * One organization's OAuth credentials, as the token store keeps them.
 *
 * @example
 * ```ts
 * const creds: Credentials = await store.get('1001') ?? fail();
 * if (isFresh(creds, 60_000)) use(creds.accessToken);
 * ```
 */
export interface Credentials {
  accessToken: string;
  refreshToken: string;
  /** Milliseconds since the epoch: time of receipt + `expires_in`. */
  expiresAt: number;
  scope?: string;
  /** Set by the store: +1 on every write; compare-and-set compares it. */
  version: number;
}

/**
 * Credentials as they come from the token endpoint, before a store gives them a version.
 *
 * @example
 * ```ts
 * await store.replace('1001', { accessToken, refreshToken, expiresAt: Date.now() + 3600_000 } satisfies NewCredentials);
 * ```
 */
export type NewCredentials = Omit<Credentials, 'version'>;

/**
 * Whether the access token is still good for at least `skewMs` more milliseconds.
 *
 * @example
 * ```ts
 * isFresh({ accessToken, refreshToken, expiresAt: Date.now() + 3600_000, version: 1 }, 60_000); // true
 * ```
 */
export function isFresh(creds: Pick<Credentials, 'expiresAt'>, skewMs: number, now = Date.now()): boolean {
  return creds.expiresAt - skewMs > now;
}
