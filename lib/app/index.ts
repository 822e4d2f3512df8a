/**
 * `passport-samsara/app`: the Samsara connection you mount in an Express app. Connect (also the
 * Direct Install URL), the OAuth callback, the organization and its grant, a paged vehicles page,
 * Disconnect, a page per failure, `/healthz` and `/readyz`. Needs express 5 and express-session
 * (and connect-redis 8 for Redis sessions), which the package lists as optional peers.
 *
 * @example
 * ```ts
 * import { createSamsaraApp } from 'passport-samsara/app';
 * host.use('/integrations/samsara', createSamsaraApp({ tokens, verify }));
 * ```
 *
 * @packageDocumentation
 */
export { createSamsaraApp } from './app.js';
export type { SamsaraApp } from './app.js';
export type { SamsaraAppOptions, SamsaraAppRedis } from './options.js';
export type { FailureKind, SamsaraAppLog, SamsaraAppLogEntry } from './failures.js';
