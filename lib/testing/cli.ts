#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startSamsaraEmulator } from './emulator.js';

// `npm run emulator` / `npx samsara-emulator`: a local Samsara for manual testing.
const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '4010' },
    host: { type: 'string', default: '127.0.0.1' },
    'auto-approve': { type: 'boolean', default: false },
    'access-token-ttl': { type: 'string', default: '3600' },
  },
});

startSamsaraEmulator({
  host: values.host,
  port: Number(values.port),
  autoApprove: values['auto-approve'],
  accessTokenTtl: Number(values['access-token-ttl']),
}).then(
  (emulator) => {
    console.log(`Samsara emulator on ${emulator.url}`);
    console.log(`  SAMSARA_BASE_URL=${emulator.url}`);
    console.log(`  SAMSARA_CLIENT_ID=${emulator.clientId}`);
    console.log(`  SAMSARA_CLIENT_SECRET=${emulator.clientSecret}   (the emulator's public test secret)`);
    const stop = (): void => {
      void emulator.stop().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
  (err: unknown) => {
    console.error(`The emulator could not start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
