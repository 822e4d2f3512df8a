import { createSamsaraApp } from 'passport-samsara/app';
import { backendsFromEnv, serve } from './backends.js';

/**
 * `npm start`: the Samsara app on its own, at the root. With nothing configured it runs on the
 * built-in Samsara emulator and memory stores; see backends.ts for the environment it reads.
 */
async function main(): Promise<void> {
  const backends = await backendsFromEnv();
  const app = createSamsaraApp({ tokens: backends.tokens, ...(backends.redis ? { redis: backends.redis } : {}) });
  serve(app, backends, 'passport-samsara example');
}

main().catch((err: unknown) => {
  // A configuration error's message says what to set; nothing else is worth more than its name.
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : 'start-up failed');
  process.exit(1);
});
