import type { EmulatorEndpoint, EmulatorFault } from './faults.js';
import type { EmulatorOptions, EmulatorSettingName } from './options.js';
import type { EmulatorCounters, IssuedGrant } from './state.js';

// The public handle of a running emulator: what a test holds and drives.

/**
 * A running emulator, from {@link startSamsaraEmulator}.
 *
 * @example
 * ```ts
 * const samsara = await startSamsaraEmulator({ autoApprove: true });
 * const tokens = new TokenManager({ client: samsara }); // its clientID, clientSecret and baseURL
 * passport.use(new SamsaraStrategy({ tokens }));
 * // ... drive the app ...
 * expect(samsara.counters.grants.authorization_code).to.equal(1);
 * await samsara.stop();
 * ```
 */
export interface SamsaraEmulator {
  /**
   * `http://127.0.0.1:PORT`, no trailing slash: the base URL for the strategy and the API.
   * With `clientID` and `clientSecret`, the handle is a client's options as it stands:
   * `new TokenManager({ client: samsara })` or `new SamsaraStrategy({ ...samsara })`.
   */
  readonly baseURL: string;
  /** The first client's id. */
  readonly clientID: string;
  /** The first client's secret. */
  readonly clientSecret: string;
  /** Live: read it after the requests of interest. */
  readonly counters: EmulatorCounters;
  resetCounters(): void;
  /** The next `times` (default 1) requests to `endpoint` misbehave; faults queue first in, first out. */
  injectFault(endpoint: EmulatorEndpoint, fault: EmulatorFault, times?: number): void;
  clearFaults(): void;
  /** Changes settings from the next request on. Throws a RangeError on a value it cannot use, and then changes nothing. */
  configure(changes: Partial<Pick<EmulatorOptions, EmulatorSettingName>>): void;
  /**
   * Changes a client's scopes (default: the first client's), as if its app settings were edited.
   * As on Samsara, only grants made from then on have the new scopes: existing grants, and the
   * tokens their refreshes bring, keep the scopes they were authorized with.
   *
   * @example
   * ```ts
   * samsara.setClientScopes(['read_org']);
   * // ... an organization signs in: its token's scope is 'read_org', and /fleet/vehicles answers 403
   * ```
   */
  setClientScopes(scopes: string[], clientId?: string): void;
  /** A grant as if the organization (default: the first) had authorized the client (default: the first). Counts nothing. */
  issueGrant(orgId?: string, clientId?: string): IssuedGrant;
  /** Every live access token (of that organization) expires now. */
  expireAccessTokens(orgId?: string): void;
  /** `rotated`: the token was used and replaced; `revoked` wins over `rotated`. */
  grantStatus(refreshToken: string): 'active' | 'rotated' | 'revoked' | 'unknown';
  /**
   * An opaque, stable id of the grant an access or refresh token belongs to (current, rotated out,
   * expired or revoked alike), or undefined for a token the emulator never issued. Two tokens of
   * one grant, before and after any number of refreshes, give the same id.
   *
   * @example
   * ```ts
   * const grant = samsara.issueGrant();
   * // ... the app refreshes ...
   * expect(samsara.grantId(stored.refreshToken)).to.equal(samsara.grantId(grant.refreshToken));
   * ```
   */
  grantId(token: string): string | undefined;
  /** Grants (of that organization) not revoked. */
  activeGrants(orgId?: string): number;
  /** Closes the server and destroys every socket, hanging and keep-alive ones included. Idempotent. */
  stop(): Promise<void>;
}
