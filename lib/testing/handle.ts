import type { SamsaraWebhookEventType } from '../webhooks/event-types.js';
import type { EmitEventOptions, EmittedWebhookEvent, WebhookDelivery } from './deliveries.js';
import type { EmulatorEndpoint, EmulatorFault } from './faults.js';
import type { EmulatorOptions, EmulatorSettingName } from './options.js';
import type { EmulatorStorage } from './prune.js';
import type { EmulatorCounters, IssuedGrant } from './state.js';
import type { EmulatedWebhook } from './webhook-fields.js';

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
  /**
   * How many entries each of its maps holds. They stay bounded: what no client can use any more
   * (expired codes and access tokens, rotated-out refresh tokens, revoked grants' tokens, quiet
   * rate windows) is swept once the maps pass 1 000 entries, and each map keeps at most 100 000.
   */
  stored(): EmulatorStorage;
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
  /**
   * An event happens in an organization: each of its webhooks whose `eventTypes` lists the type
   * (or only the one `options.webhookId` names) gets a delivery, signed as Samsara signs, to its
   * URL (loopback hosts only), retried per `webhookRetryDelays` on a non-2xx answer, a timeout
   * (`webhookTimeout`) or a network failure. Throws a RangeError for an unknown organization or
   * event type, or data that is not a JSON object.
   *
   * @example
   * ```ts
   * const { settled } = samsara.emitEvent('1001', 'VehicleCreated', { vehicle: { id: '494123', name: 'Truck 1' } });
   * const [delivery] = await settled;
   * expect(delivery.outcome).to.equal('delivered');
   * ```
   */
  emitEvent(
    orgId: string,
    eventType: SamsaraWebhookEventType,
    data?: Record<string, unknown>,
    options?: EmitEventOptions,
  ): EmittedWebhookEvent;
  /**
   * Adds a webhook to an organization as if made on the dashboard: checked as `POST /webhooks`
   * checks its body (a RangeError with the API's message), counting nothing. Returns it with its
   * `secretKey`.
   *
   * @example
   * ```ts
   * const webhook = samsara.addWebhook('1001', { name: 'tests', url: `${receiver}/samsara/webhooks`, eventTypes: ['VehicleCreated'] });
   * ```
   */
  addWebhook(
    orgId: string,
    fields: Partial<Pick<EmulatedWebhook, 'version' | 'eventTypes' | 'customHeaders'>> & { name: string; url: string },
  ): EmulatedWebhook;
  /** The webhooks (of that organization), oldest first: copies, secrets included. */
  webhooksOf(orgId?: string): EmulatedWebhook[];
  /** The latest deliveries (at most `webhookHistory`), oldest first: copies. */
  webhookDeliveries(): WebhookDelivery[];
  /** Resolves once no webhook delivery is in flight, retries included. */
  webhooksSettled(): Promise<void>;
  /**
   * Closes the server and destroys every socket, hanging and keep-alive ones included, and ends
   * the webhook deliveries in flight (as `failed`). Idempotent.
   */
  stop(): Promise<void>;
}
