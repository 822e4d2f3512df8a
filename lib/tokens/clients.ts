import type { SamsaraRegion } from '../endpoints.js';
import { ConfigurationError } from '../errors/index.js';
import { OAuthClient, type OAuthClientOptions } from '../oauth-client.js';

/**
 * One OAuth app per region, as `TokenManagerOptions.clients` takes them: an `OAuthClient`, or its
 * options (`region` defaults to the entry's own; nothing is read from the environment, since
 * `SAMSARA_CLIENT_ID` can name only one app).
 *
 * @example
 * ```ts
 * const clients: RegionClients = {
 *   us: { clientID: process.env.SAMSARA_US_CLIENT_ID, clientSecret: process.env.SAMSARA_US_CLIENT_SECRET },
 *   eu: { clientID: process.env.SAMSARA_EU_CLIENT_ID, clientSecret: process.env.SAMSARA_EU_CLIENT_SECRET },
 * };
 * ```
 */
export type RegionClients = Partial<Record<SamsaraRegion, OAuthClient | OAuthClientOptions>>;

/**
 * Which app issued a grant: what routing reads of its credentials (a `Credentials` is one).
 *
 * @example
 * ```ts
 * const creds = await tokens.credentials(orgId);
 * const { endpoints } = tokens.clientFor(creds); // the organization's region's URLs
 * ```
 */
export interface Issuer {
  region?: SamsaraRegion | undefined;
  clientID?: string | undefined;
}

/** The manager's OAuth clients by region, and the default one (grants that name no region). */
export class ClientRouter {
  readonly byRegion: ReadonlyMap<SamsaraRegion, OAuthClient>;
  readonly default: OAuthClient;

  constructor(client: OAuthClient | OAuthClientOptions | undefined, clients: RegionClients | undefined) {
    if (client && clients) {
      throw new ConfigurationError(
        'TokenManager takes either client (one OAuth app) or clients (one per region), not both.',
      );
    }
    const byRegion = new Map<SamsaraRegion, OAuthClient>();
    if (clients) {
      for (const [region, entry] of Object.entries(clients) as [SamsaraRegion, RegionClients[SamsaraRegion]][]) {
        if (!entry) continue;
        const made = entry instanceof OAuthClient ? entry : new OAuthClient({ region, ...entry }, {});
        if (made.region !== region) {
          throw new ConfigurationError(
            `TokenManager option clients.${region} is a client of region "${made.region}": each entry must be its own region's app.`,
          );
        }
        byRegion.set(region, made);
      }
      if (byRegion.size === 0) throw new ConfigurationError('TokenManager option clients names no region.');
    } else {
      const single = client instanceof OAuthClient ? client : new OAuthClient(client);
      byRegion.set(single.region, single);
    }
    this.byRegion = byRegion;
    this.default = byRegion.get('us') ?? [...byRegion.values()][0];
  }

  /**
   * The client that issued a grant: its region's (the default one for a grant that names none).
   * A region without a client, or a client id that differs from the one that issued the grant,
   * is a `ConfigurationError`: sending the refresh token to another app would only fail, or leak it.
   */
  for(issuer: Issuer): OAuthClient {
    const client = issuer.region === undefined ? this.default : this.byRegion.get(issuer.region);
    if (!client) {
      throw new ConfigurationError(
        `A grant was issued in region "${issuer.region}", for which this TokenManager has no client: add it to the clients option.`,
      );
    }
    if (issuer.clientID !== undefined && issuer.clientID !== client.clientID) {
      throw new ConfigurationError(
        `A grant of region "${client.region}" was issued to client id ${issuer.clientID}, but this TokenManager's client for that region is ${client.clientID}.`,
      );
    }
    return client;
  }

  /** The longest token request timeout among the clients: what a lock must outlive. */
  get maxTimeout(): number {
    return Math.max(...[...this.byRegion.values()].map((client) => client.timeout));
  }
}
