import {
  EMULATOR_CLIENT_ID,
  EMULATOR_CLIENT_SECRET,
  type EmulatorClient,
  type EmulatorOptions,
  type EmulatorOrganization,
} from './options.js';

// Who the emulator knows: its clients (apps) and organizations, checked once at start, so that a
// mistake in a test's setup is a RangeError there rather than a 500 in the middle of a sign-in.

/**
 * What `GET /me`, `/fleet/vehicles*` and `/webhooks*` need, as the app's scopes name them (see
 * {@link EmulatorClient.scopes}); `GET /webhooks*` needs the read scope, the writes the write one.
 */
export const ORG_SCOPE = 'read_org';
export const VEHICLES_SCOPE = 'read_vehicles';
export const READ_WEBHOOKS_SCOPE = 'read_webhooks';
export const WRITE_WEBHOOKS_SCOPE = 'write_webhooks';
export const DEFAULT_SCOPES: readonly string[] = [ORG_SCOPE, VEHICLES_SCOPE, READ_WEBHOOKS_SCOPE, WRITE_WEBHOOKS_SCOPE];

/** The dashboard's names of the scopes the emulator knows; any other scope is shown as it is spelled. */
export const SCOPE_LABELS: Readonly<Record<string, string>> = {
  [ORG_SCOPE]: 'Read Org Information',
  [VEHICLES_SCOPE]: 'Read Vehicles',
  [READ_WEBHOOKS_SCOPE]: 'Read Webhooks',
  [WRITE_WEBHOOKS_SCOPE]: 'Write Webhooks',
};

export const DEFAULT_ORG: EmulatorOrganization = {
  id: '1001',
  name: "Charlie's Dining Services",
  carrierSettings: {
    carrierName: "Charlie's Dining Services",
    dotNumber: 98231,
    mainOfficeAddress: '1990 Alameda St, San Francisco, CA 94103',
  },
};

export interface Directory {
  clients: Map<string, EmulatorClient>;
  orgs: Map<string, EmulatorOrganization>;
}

/** The clients and organizations of the options, by id, each checked; throws a RangeError on the first bad one. */
export function directoryOf(options: Pick<EmulatorOptions, 'clients' | 'organizations'>): Directory {
  const clients = indexById(
    options.clients ?? [{ clientId: EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET }],
    (c) => c.clientId,
    'client',
  );
  const orgs = indexById(options.organizations ?? [DEFAULT_ORG], (o) => o.id, 'organization');
  for (const org of orgs.values()) {
    if (org.vehicleCount !== undefined && !(Number.isInteger(org.vehicleCount) && org.vehicleCount >= 0)) {
      throw new RangeError(`vehicleCount of organization ${org.id} must be a whole number, not ${org.vehicleCount}.`);
    }
  }
  for (const client of clients.values()) {
    // The emulator redirects to these: one that is no URL would fail every sign-in with a 500.
    const bad = client.redirectUris?.find((uri) => !URL.canParse(uri));
    if (bad !== undefined)
      throw new RangeError(`Client ${client.clientId} registers a redirect URL that is no URL: ${bad}.`);
    if (client.scopes !== undefined) checkScopes(client.scopes, client.clientId);
  }
  return { clients, orgs };
}

/** A space-separated `scope` string must survive the round trip: no empty scope, no whitespace in one. */
export function checkScopes(scopes: unknown, clientId: string): asserts scopes is string[] {
  const bad =
    !Array.isArray(scopes) ||
    scopes.some((scope) => typeof scope !== 'string' || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope));
  // RFC 6749 §3.3: a scope token is printable ASCII without space, `"` or `\`.
  if (bad)
    throw new RangeError(
      `Client ${clientId}: scopes must be an array of RFC 6749 scope tokens, not ${JSON.stringify(scopes)}.`,
    );
}

/** The clients or organizations by id; at least one, no id twice. */
export function indexById<T>(items: T[], idOf: (item: T) => string, what: string): Map<string, T> {
  if (items.length === 0) throw new RangeError(`The emulator needs at least one ${what}.`);
  const map = new Map<string, T>();
  for (const item of items) {
    if (map.has(idOf(item))) throw new RangeError(`Two of the emulator's ${what}s have the id ${idOf(item)}.`);
    map.set(idOf(item), item);
  }
  return map;
}
