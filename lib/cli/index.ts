#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { copyGrants, describeReport } from './copy-grants.js';
import { openStore, type OpenedStore } from './open-store.js';

// `npx passport-samsara copy-grants --from <url> --to <url>`: grants copied between token stores,
// as sealed. Progress on stderr, the report on stdout; exit 0 when every key was copied or skipped for
// a reason, 1 when some failed, 2 for bad usage.
const USAGE = `Usage: passport-samsara copy-grants --from <url> --to <url> [--quiet]

  --from URL   the store to copy from: redis://, rediss://, postgres:// or postgresql://
  --to URL     the store to copy to (same schemes)
  --quiet      no progress lines, only the report

  URL parameters: prefix=<key prefix> (both stores; default samsara:, the same on both so the
  sealed values open there), schema=<name> (Postgres; default samsara). No sealing key is needed.`;

function fail(message: string): never {
  console.error(`${message}\n\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { from: { type: 'string' }, to: { type: 'string' }, quiet: { type: 'boolean' } },
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const { positionals, values } = parsed;
  if (positionals[0] !== 'copy-grants' || positionals.length !== 1) fail('Unknown or missing command.');
  if (!values.from || !values.to) fail('Both --from and --to are needed.');
  const opened: OpenedStore[] = [];
  try {
    const from = await openStore(values.from);
    opened.push(from);
    const to = await openStore(values.to);
    opened.push(to);
    const started = Date.now();
    const report = await copyGrants(from.store, to.store, {
      onProgress: values.quiet
        ? undefined
        : (now) =>
            console.error(
              `copy-grants: ${now.read} keys read, ${now.copied} copied, ${now.read - now.copied - now.failed.length} skipped, ${now.failed.length} failed (${Date.now() - started} ms)`,
            ),
    });
    for (const line of describeReport(report)) console.log(line);
    if (report.failed.length) process.exitCode = 1;
  } catch (err) {
    const { code } = err as { code?: string };
    console.error(`copy-grants: ${code ? `${code}: ` : ''}${(err as Error).message}`);
    process.exitCode = 1;
  } finally {
    for (const each of opened) await each.close().catch(() => undefined);
  }
}

void main();
