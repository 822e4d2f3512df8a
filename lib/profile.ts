import type { Profile } from 'passport';
import { bareToken, sendToSamsara, type ApiClient } from './api.js';
import { ProfileError } from './errors/index.js';
import { asRecord, parseJSON, readCapped } from './http.js';
import { redact } from './redact.js';

/**
 * The organization `GET /me` describes.
 *
 * @example
 * ```ts
 * const org: SamsaraOrganization = profile.organization; // { id: '1001', name: "Charlie's Dining Services" }
 * ```
 */
export interface SamsaraOrganization {
  id: string;
  name: string;
  carrierSettings?: { carrierName?: string; dotNumber?: number; mainOfficeAddress?: string };
}

/**
 * The passport profile of a Samsara sign-in. A grant belongs to an organization, not a person,
 * so `id` is the organization's id.
 *
 * @example
 * ```ts
 * passport.use(new SamsaraStrategy(async (accessToken, refreshToken, profile) => ({
 *   orgId: profile.id, orgName: profile.displayName, dot: profile.organization.carrierSettings?.dotNumber,
 * })));
 * ```
 */
export interface SamsaraProfile extends Profile {
  provider: 'samsara';
  organization: SamsaraOrganization;
  _raw: string;
  _json: Record<string, unknown>;
}

/**
 * Turns the body of `GET /me` into a {@link SamsaraProfile}; throws `ProfileError`
 * (`SAMSARA_PROFILE_FAILED`) when it does not name an organization.
 *
 * @example
 * ```ts
 * toProfile('{"data":{"id":"123","name":"Charlie\'s Dining Services"}}').displayName;
 * // "Charlie's Dining Services"
 * ```
 */
export function toProfile(body: string): SamsaraProfile {
  const json = asRecord(parseJSON(body));
  const data = asRecord(json?.data);
  const id = data?.id;
  if (!json || !data || (typeof id !== 'string' && typeof id !== 'number') || String(id) === '') {
    throw new ProfileError("Samsara's /me answered without an organization id.");
  }
  const name = typeof data.name === 'string' ? data.name : '';
  const carrier = asRecord(data.carrierSettings);
  const organization: SamsaraOrganization = {
    id: String(id),
    name,
    ...(carrier ? { carrierSettings: carrier } : {}),
  };
  return { provider: 'samsara', id: organization.id, displayName: name, organization, _raw: body, _json: json };
}

/**
 * `GET /me` with a token just issued, through the API module (base-URL guard, timeout, 429 waits;
 * no refresh: the grant is not stored yet). Errors carry a stable code: `SAMSARA_PROFILE_FORBIDDEN`
 * (the app lacks the "Read Org Information" scope), `SAMSARA_PROFILE_UNAUTHORIZED`,
 * `SAMSARA_PROFILE_FAILED`.
 */
export async function fetchProfile(
  client: ApiClient & { readonly maxResponseBytes: number },
  accessToken: string,
): Promise<SamsaraProfile> {
  const what = "Samsara's /me";
  let upstreamStatus: number;
  let body: string;
  try {
    const response = await sendToSamsara(bareToken(client, accessToken), '/me');
    upstreamStatus = response.status;
    body = await readCapped(response, client.maxResponseBytes, what);
  } catch (err) {
    // undici quotes a header it refuses, and so the Bearer token (one with a CR/LF, handed to
    // strategy.userProfile): neither the message nor the cause may carry it.
    const message = redact((err as Error).message, [accessToken]);
    const cause = message === (err as Error).message ? err : undefined;
    throw new ProfileError(`Fetching the organization failed: ${message}`, { cause });
  }
  if (upstreamStatus === 401) {
    throw new ProfileError(`${what} rejected the access token Samsara had just issued (HTTP 401).`, {
      code: 'SAMSARA_PROFILE_UNAUTHORIZED',
      upstreamStatus,
    });
  }
  if (upstreamStatus === 403) {
    throw new ProfileError(
      `${what} answered 403: give the app the "Read Org Information" scope in the Samsara dashboard, then sign in again.`,
      { code: 'SAMSARA_PROFILE_FORBIDDEN', upstreamStatus },
    );
  }
  if (upstreamStatus !== 200) throw new ProfileError(`${what} answered HTTP ${upstreamStatus}.`, { upstreamStatus });
  return toProfile(body);
}
