// The emulator's public test client, shared by the emulator (which plays the server and imports
// nothing else of lib/) and the app (which must know it, to run without secrets against it only).

/**
 * The emulator's default client id: a public test value.
 *
 * @example
 * ```ts
 * new SamsaraStrategy({ clientID: EMULATOR_CLIENT_ID, clientSecret: EMULATOR_CLIENT_SECRET, baseURL: samsara.baseURL });
 * ```
 */
export const EMULATOR_CLIENT_ID = 'samsara-emulator-client';

/**
 * The emulator's default client secret: a public test value, fine to print and to commit.
 *
 * @example
 * ```ts
 * const basic = Buffer.from(`${EMULATOR_CLIENT_ID}:${EMULATOR_CLIENT_SECRET}`).toString('base64');
 * ```
 */
export const EMULATOR_CLIENT_SECRET = 'samsara-emulator-secret';
