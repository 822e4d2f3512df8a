/**
 * `passport-samsara/testing`: a local Samsara (OAuth 2.0 authorize, token and revoke endpoints,
 * `GET /me`, `GET /fleet/vehicles`, `GET /fleet/vehicles/{id}`, `/webhooks` and signed webhook
 * deliveries) for tests, benchmarks and the example app, with faults,
 * latency, a movable clock and counters. It is written from Samsara's documentation and the RFCs,
 * not from this package's client, so a client bug shows up as a failing test.
 *
 * @example
 * ```ts
 * import { startSamsaraEmulator } from 'passport-samsara/testing';
 *
 * const samsara = await startSamsaraEmulator({ autoApprove: true });
 * const grant = samsara.issueGrant();
 * const me = await fetch(`${samsara.baseURL}/me`, { headers: { authorization: `Bearer ${grant.accessToken}` } });
 * console.log((await me.json()).data.name); // "Charlie's Dining Services"
 * await samsara.stop();
 * ```
 *
 * @packageDocumentation
 */
export { startSamsaraEmulator } from './emulator.js';
export type { SamsaraEmulator } from './emulator.js';
export { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET } from './options.js';
export type { EmulatorOptions, EmulatorClient, EmulatorOrganization, EmulatorSettingName } from './options.js';
export type { EmulatorEndpoint, EmulatorFault } from './faults.js';
export type { EmulatorCounters, IssuedGrant } from './state.js';
export type { EmulatorStorage } from './prune.js';
export type { EmulatedVehicle } from './fleet.js';
export { signSamsaraWebhook } from './webhook-signer.js';
export type { SignSamsaraWebhookOptions, SignedSamsaraWebhook } from './webhook-signer.js';
export type { EmulatedWebhook } from './webhook-fields.js';
export type { EmitEventOptions, EmittedWebhookEvent, WebhookAttempt, WebhookDelivery } from './deliveries.js';
export { EMULATED_TAGS, EMULATED_ATTRIBUTES } from './fleet-catalog.js';
export type { EmulatedTag, EmulatedAttribute } from './fleet-catalog.js';
