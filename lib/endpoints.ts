import { ConfigurationError } from './errors/index.js';

/**
 * A Samsara cloud. Apps are created per cloud, each with its own client id.
 *
 * @example
 * ```ts
 * new SamsaraStrategy({ region: 'eu' as SamsaraRegion });
 * ```
 */
export type SamsaraRegion = 'us' | 'eu';

/**
 * The API base URL of each region.
 *
 * @example
 * ```ts
 * REGION_BASE_URLS.eu; // 'https://api.eu.samsara.com'
 * ```
 */
export const REGION_BASE_URLS: Readonly<Record<SamsaraRegion, string>> = Object.freeze({
  us: 'https://api.samsara.com',
  eu: 'https://api.eu.samsara.com',
});

/**
 * Every URL the package talks to, derived from one base URL.
 *
 * @example
 * ```ts
 * const urls = resolveEndpoints({ region: 'eu' });
 * urls.tokenURL; // 'https://api.eu.samsara.com/oauth2/token'
 * ```
 */
export interface SamsaraEndpoints {
  baseURL: string;
  authorizationURL: string;
  tokenURL: string;
  revocationURL: string;
  /** The absolute URL of an API path such as `/fleet/vehicles`. */
  apiURL(path: string): string;
}

/**
 * Derives Samsara's URLs from a region or a base URL (a proxy, the local emulator). `baseURL`
 * wins over `region`; unset, they come from `SAMSARA_BASE_URL` and `SAMSARA_REGION`; the default
 * is the US cloud.
 *
 * @example
 * ```ts
 * resolveEndpoints({ baseURL: 'http://127.0.0.1:4010' }).authorizationURL;
 * // 'http://127.0.0.1:4010/oauth2/authorize'
 * ```
 */
export function resolveEndpoints(
  options: { region?: string; baseURL?: string } = {},
  env: NodeJS.ProcessEnv = process.env,
): SamsaraEndpoints {
  const base = options.baseURL ?? env.SAMSARA_BASE_URL ?? regionBase(options.region ?? env.SAMSARA_REGION);
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    throw new ConfigurationError(`baseURL (or SAMSARA_BASE_URL) is not an absolute URL: "${base}".`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new ConfigurationError(`baseURL (or SAMSARA_BASE_URL) must be an http(s) URL, not "${parsed.protocol}".`);
  }
  const root = parsed.href.replace(/\/+$/, '');
  const at = (path: string): string => root + (path.startsWith('/') ? path : `/${path}`);
  return {
    baseURL: root,
    authorizationURL: at('/oauth2/authorize'),
    tokenURL: at('/oauth2/token'),
    revocationURL: at('/oauth2/revoke'),
    apiURL: at,
  };
}

function regionBase(region: string | undefined): string {
  return REGION_BASE_URLS[regionOf(region)];
}

/** A region option (or `SAMSARA_REGION`) checked and lower-cased; unset, `us`. */
export function regionOf(region: string | undefined): SamsaraRegion {
  if (region === undefined || region === '') return 'us';
  const key = region.toLowerCase();
  if (key === 'us' || key === 'eu') return key;
  throw new ConfigurationError(
    `Unknown Samsara region "${region}" (option region or SAMSARA_REGION): use "us" or "eu".`,
  );
}
