import { SamsaraError } from './samsara-error.js';

/**
 * A request that may only come from the app's own pages (Disconnect) came from another origin:
 * another site, a sibling subdomain or another port of the same host. Nothing was done. HTTP 403.
 *
 * @example
 * ```ts
 * if (err instanceof CrossSiteRequestError) res.status(403).send('Disconnect from the app itself.');
 * ```
 */
export class CrossSiteRequestError extends SamsaraError {
  constructor(message: string) {
    super(message, { code: 'SAMSARA_CROSS_SITE', status: 403 });
  }
}
