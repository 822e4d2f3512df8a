#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startSamsaraEmulator } from './emulator.js';

// `npx samsara-emulator` / `npm run emulator`: a local Samsara for trying the package by hand.
const USAGE = `Usage: samsara-emulator [--port N] [--host H] [--auto-approve] [--access-token-ttl S]

  --port N               port to listen on (default: $PORT, else 4010; 0 picks a free one)
  --host H               interface to listen on (default: 127.0.0.1)
  --auto-approve         skip the consent page and approve for the first organization
  --access-token-ttl S   access-token lifetime in seconds (default: 3600)`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

function wholeNumber(name: string, text: string): number {
  if (!/^\d+$/.test(text)) fail(`${name} must be a whole number, not "${text}".`);
  return Number(text);
}

function parseOptions() {
  try {
    return parseArgs({
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'auto-approve': { type: 'boolean' },
        'access-token-ttl': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const values = parseOptions();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

startSamsaraEmulator({
  host: values.host ?? '127.0.0.1',
  port: wholeNumber('--port', values.port ?? process.env.PORT ?? '4010'),
  autoApprove: values['auto-approve'] ?? false,
  accessTokenTtl: wholeNumber('--access-token-ttl', values['access-token-ttl'] ?? '3600'),
}).then(
  (emulator) => {
    // Handlers first: whoever reads the banner may signal at once.
    const stop = (signal: NodeJS.Signals): void => {
      console.log(`${signal}: stopping the emulator.`);
      void emulator.stop().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (!isLoopback(values.host ?? '127.0.0.1')) {
      console.warn(
        `Warning: the emulator listens on ${values.host ?? ''}, not a loopback address: anyone who can reach it can approve sign-ins and read what it serves. Use --host 127.0.0.1 unless you mean it.`,
      );
    }
    console.log(`Samsara emulator listening on ${emulator.baseURL}`);
    console.log(`  SAMSARA_BASE_URL=${emulator.baseURL}`);
    console.log(`  SAMSARA_CLIENT_ID=${emulator.clientID}`);
    console.log(`  SAMSARA_CLIENT_SECRET=${emulator.clientSecret}   (the emulator's public test secret)`);
  },
  (err: unknown) => {
    console.error(`The emulator could not start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
