// The emulator's options, their defaults, and the checks that refuse a value it cannot use.

export { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET } from '../emulator-client.js';

/**
 * An OAuth client (a Marketplace app) the emulator knows.
 *
 * @example
 * ```ts
 * await startSamsaraEmulator({
 *   clients: [{ clientId: 'my-app', clientSecret: 's3cret', redirectUris: ['http://localhost:3000/auth/samsara/callback'] }],
 * });
 * ```
 */
export interface EmulatorClient {
  clientId: string;
  clientSecret: string;
  /**
   * Registered redirect URLs, matched exactly. Omitted: any `http` URL on a loopback host
   * (127.0.0.0/8, `localhost`, `[::1]`), so tests on random ports need no registration.
   */
  redirectUris?: string[];
  /**
   * The scopes chosen in the app's settings; a grant takes those of its client when the organization
   * authorizes, and keeps them across refreshes (Samsara: scope changes take effect on
   * re-authorization). The token response's `scope` lists them, space-separated. `read_org` lets
   * `GET /me` answer, `read_vehicles` the `/fleet/vehicles` endpoints, `read_webhooks` the `GET
   * /webhooks` ones and `write_webhooks` the webhook writes; without them they answer 403. Other
   * strings are carried along and grant nothing. Default: those four.
   */
  scopes?: string[];
}

/**
 * An organization that can authorize apps; `GET /me` returns it.
 *
 * @example
 * ```ts
 * await startSamsaraEmulator({
 *   organizations: [
 *     { id: '1001', name: "Charlie's Dining Services", vehicleCount: 3 },
 *     { id: '2002', name: 'Acme Freight', vehicleCount: 0 },
 *   ],
 * });
 * ```
 */
export interface EmulatorOrganization {
  id: string;
  name: string;
  carrierSettings?: { carrierName: string; dotNumber: number; mainOfficeAddress: string };
  /** How many vehicles `GET /fleet/vehicles` lists. Default 1200. */
  vehicleCount?: number;
}

/**
 * Options of {@link startSamsaraEmulator}; those {@link SamsaraEmulator.configure} takes can change
 * while it runs.
 *
 * @example
 * ```ts
 * let now = Date.now();
 * const samsara = await startSamsaraEmulator({ autoApprove: true, accessTokenTtl: 60, clock: () => now });
 * now += 61_000; // every access token issued so far has expired
 * ```
 */
export interface EmulatorOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Default: one client, {@link EMULATOR_CLIENT_ID} / {@link EMULATOR_CLIENT_SECRET}, any loopback redirect URL. */
  clients?: EmulatorClient[];
  /** Default: organization `1001`, "Charlie's Dining Services", 1200 vehicles. */
  organizations?: EmulatorOrganization[];
  /**
   * Skip the consent page: `true` approves at once for the first organization, a string for the
   * organization with that id. Default `false`: the consent page, with Allow and Deny.
   */
  autoApprove?: boolean | string;
  /** `expires_in` of access tokens, in whole seconds. Default 3600. */
  accessTokenTtl?: number;
  /** Lifetime of authorization codes, in seconds. Default 600. */
  codeTtl?: number;
  /** Milliseconds a rotated-out refresh token keeps working. Default 0: strictly single use. */
  refreshTokenReuseGrace?: number;
  /**
   * Reuse detection (OAuth 2.0 Security BCP §4.14.2): a rotated-out refresh token presented again
   * (past the grace) revokes its whole grant. Samsara documents neither way. Default false.
   */
  revokeOnReuse?: boolean;
  /**
   * What one successful `POST /oauth2/revoke` reaches. Samsara's documentation reads both ways, so
   * the emulator plays both:
   *
   * - `'organization'` (the default): every grant of the token's organization issued to the same
   *   client, as in "invalidates access tokens and refresh tokens for that organization". Another
   *   client's grants, and grants made later, live on.
   * - `'grant'`: only the grant the token belongs to (RFC 7009's token family): its refresh token,
   *   whether current or rotated out, and every access token issued from it.
   *
   * Either way, the token must belong to a grant that is still live: a token the emulator does not
   * know, or one of a grant already revoked, revokes nothing (and is still answered 200).
   *
   * @example
   * ```ts
   * const samsara = await startSamsaraEmulator({ revocation: 'grant' });
   * const a = samsara.issueGrant('1001');
   * const b = samsara.issueGrant('1001');
   * // ... revoke a.refreshToken through the app ...
   * expect(samsara.grantStatus(b.refreshToken)).to.equal('active'); // 'revoked' with 'organization'
   * ```
   */
  revocation?: 'grant' | 'organization';
  /** Milliseconds added before every response. Default 0. */
  latency?: number;
  /** API requests per second per access token before 429 (a sliding 1 s window). Default 150, Samsara's limit. */
  rateLimit?: number;
  /**
   * API requests per second per organization, whatever the token or client (a sliding 1 s window).
   * Default 200, Samsara's limit.
   */
  orgRateLimit?: number;
  /**
   * Requests per second per organization to each vehicles endpoint (`GET /fleet/vehicles`, and on
   * its own budget `GET /fleet/vehicles/{id}`), whatever the token. Default 25, Samsara's limit for
   * listing vehicles. A test that pages a large fleet under a clock that stands still raises it.
   */
  vehiclesRateLimit?: number;
  /**
   * RFC 6749 §4.1.3 to the letter: a code whose authorize request carried a `redirect_uri` is
   * refused (`invalid_grant`) by a code exchange without one. Default false, as Samsara behaves: its
   * own Node and Python samples exchange codes without `redirect_uri`, and work. Either way a
   * `redirect_uri` that is sent must be the one the code was delivered to.
   */
  strictRedirectUri?: boolean;
  /**
   * Milliseconds between a webhook delivery's attempts, after a non-2xx answer, a timeout or a
   * network failure: one retry per entry, so `[]` never retries. Samsara documents no schedule
   * (third parties report up to five attempts, backing off). Default `[1000, 2000, 4000, 8000]`.
   */
  webhookRetryDelays?: number[];
  /** Milliseconds a webhook delivery's attempt waits for the receiver's answer. Not documented by Samsara. Default 10 000. */
  webhookTimeout?: number;
  /** How many webhook deliveries {@link SamsaraEmulator.webhookDeliveries} keeps, the newest. Default 1000. */
  webhookHistory?: number;
  /** Milliseconds since the epoch; every expiry, the rate limits and the webhook signatures read it. Default `Date.now`. */
  clock?: () => number;
}

/** The options {@link SamsaraEmulator.configure} can change while the emulator runs. */
export const SETTING_NAMES = [
  'accessTokenTtl',
  'refreshTokenReuseGrace',
  'revokeOnReuse',
  'revocation',
  'latency',
  'rateLimit',
  'orgRateLimit',
  'vehiclesRateLimit',
  'strictRedirectUri',
  'autoApprove',
  'webhookRetryDelays',
  'webhookTimeout',
] as const;

/**
 * The names of the options {@link SamsaraEmulator.configure} can change.
 *
 * @example
 * ```ts
 * const name: EmulatorSettingName = 'vehiclesRateLimit';
 * samsara.configure({ [name]: 1_000 });
 * ```
 */
export type EmulatorSettingName = (typeof SETTING_NAMES)[number];

/** The live settings every handler reads; {@link SamsaraEmulator.configure} changes them in place. */
export type Settings = Required<Pick<EmulatorOptions, EmulatorSettingName>>;

export function defaultSettings(): Settings {
  return {
    accessTokenTtl: 3600,
    refreshTokenReuseGrace: 0,
    revokeOnReuse: false,
    revocation: 'organization',
    latency: 0,
    rateLimit: 150,
    orgRateLimit: 200,
    vehiclesRateLimit: 25,
    strictRedirectUri: false,
    autoApprove: false,
    webhookRetryDelays: [1000, 2000, 4000, 8000],
    webhookTimeout: 10_000,
  };
}

/** Checks every change first, then applies them all: a RangeError leaves the settings untouched. */
export function applySettings(settings: Settings, changes: Partial<Settings>, orgIds: ReadonlySet<string>): void {
  const checks: Array<[keyof Settings, (v: number) => boolean, string]> = [
    ['accessTokenTtl', (v) => Number.isInteger(v) && v > 0, 'a positive whole number of seconds'],
    ['refreshTokenReuseGrace', (v) => v >= 0, 'a number of milliseconds >= 0'],
    ['latency', (v) => v >= 0, 'a number of milliseconds >= 0'],
    ['rateLimit', (v) => v >= 1, 'a number of requests >= 1'],
    ['orgRateLimit', (v) => v >= 1, 'a number of requests >= 1'],
    ['vehiclesRateLimit', (v) => v >= 1, 'a number of requests >= 1'],
    ['webhookTimeout', (v) => v > 0, 'a number of milliseconds > 0'],
  ];
  const delays: unknown = changes.webhookRetryDelays;
  if (
    delays !== undefined &&
    !(Array.isArray(delays) && delays.length <= 100 && delays.every((d) => Number.isFinite(d) && (d as number) >= 0))
  ) {
    throw new RangeError(
      `webhookRetryDelays must be at most 100 numbers of milliseconds >= 0, not ${JSON.stringify(delays)}.`,
    );
  }
  for (const [name, valid, what] of checks) {
    const value = changes[name];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && valid(value))) {
      throw new RangeError(`${name} must be ${what}, not ${String(value)}.`);
    }
  }
  // Checked at run time too: a JavaScript caller's option is whatever it wrote.
  if (changes.revocation !== undefined && !(['grant', 'organization'] as unknown[]).includes(changes.revocation)) {
    throw new RangeError(`revocation must be 'grant' or 'organization', not ${JSON.stringify(changes.revocation)}.`);
  }
  for (const name of ['revokeOnReuse', 'strictRedirectUri'] as const) {
    if (changes[name] !== undefined && typeof changes[name] !== 'boolean')
      throw new RangeError(`${name} must be true or false, not ${JSON.stringify(changes[name])}.`);
  }
  if (typeof changes.autoApprove === 'string' && !orgIds.has(changes.autoApprove)) {
    throw new RangeError(`autoApprove names organization ${changes.autoApprove}, which the emulator does not have.`);
  }
  for (const name of SETTING_NAMES) {
    if (changes[name] !== undefined) Object.assign(settings, { [name]: changes[name] });
  }
  // A copy: the caller's array, changed later, must not change the schedule under the emulator.
  if (changes.webhookRetryDelays !== undefined) settings.webhookRetryDelays = [...changes.webhookRetryDelays];
}
