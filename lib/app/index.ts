/**
 * `passport-samsara/app`: the Samsara connection you mount in an Express app, for your customer's
 * admin. Connect (also the Direct Install URL), the OAuth callback, whether and since when the
 * organization is connected, a paged vehicles page, Sign out, Disconnect (confirmed first), a
 * page per failure, `/healthz` and `/readyz`; on its own sessions, or on your app's accounts
 * (`account`). Needs express 4.21+ or 5 and express-session (and connect-redis 8 for Redis
 * sessions), which the package lists as optional peers.
 *
 * @example
 * ```ts
 * import { createSamsaraApp } from 'passport-samsara/app';
 * host.use('/integrations/samsara', createSamsaraApp({ tokens, verify, brand: { name: 'Acme Dispatch' } }));
 * ```
 *
 * @packageDocumentation
 */
export { createSamsaraApp } from './app.js';
export type { SamsaraApp } from './app.js';
export type { SamsaraAppOptions, SamsaraAppRedis } from './options.js';
export type { SamsaraAppAccount, SamsaraConnection } from './account.js';
export type { SamsaraAppBrand } from './brand.js';
export type { FailureKind } from './failure-pages.js';
export type { SamsaraAppLog, SamsaraAppLogEntry } from './failure-log.js';
