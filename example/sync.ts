import { SamsaraClient } from '@samsarahq/samsara';
import { subscribe } from 'node:diagnostics_channel';
import {
  MemoryTokenStore,
  OAuthClient,
  ReauthorizationRequiredError,
  SAMSARA_CHANNELS,
  TokenManager,
  samsaraErrorOf,
  type OrganizationStatus,
  type SamsaraEvent,
} from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { syncProgress, type SyncProgress } from './progress.js';
import { tokenStoreFromEnv } from './backends.js';

/**
 * `npm run sync`: a background job to copy. For every connected organization it lists the
 * vehicles through Samsara's official SDK, a few organizations at a time, and reports the
 * organizations whose grant died (uninstalled, revoked) as disconnected.
 *
 * With nothing configured it runs a demo on in-process emulators: a US and an EU organization
 * (two OAuth apps, one per region) and a third US organization that "uninstalls" the app in the
 * middle of its listing. Otherwise: SAMSARA_CLIENT_ID / SAMSARA_CLIENT_SECRET (SAMSARA_REGION,
 * SAMSARA_BASE_URL) for one app, SAMSARA_EU_CLIENT_ID / SAMSARA_EU_CLIENT_SECRET for an EU app
 * beside it, and DATABASE_URL (Postgres) or REDIS_URL, with SAMSARA_SEALING_KEYS, for the store
 * the web app signs organizations into. Run it as several processes on one store and each
 * organization is still refreshed once per expiry: the manager's lock spans processes.
 */

/** Options of {@link syncOrganizations}. */
export interface SyncOptions {
  /** Organizations synced at once. Default 4. */
  concurrency?: number;
  /** The longest a call waits out Samsara's 429s (fractional Retry-After), in ms. Default 30 000. */
  maxRateLimitWait?: number;
  /** Where progress goes. Default: nowhere. */
  log?: (line: string) => void;
  /** Told of each vehicle and each organization done: `syncProgress(process.stdout)` draws it. */
  progress?: Pick<SyncProgress, 'vehicles' | 'organizationDone'>;
  /** After each page of an organization's vehicles (the place to store them), with the count so far. */
  onPage?: (org: OrganizationStatus, vehiclesSoFar: number) => Promise<void> | void;
}

/** What one run did. Disconnected and failed organizations are listed; synced ones counted. */
export interface SyncSummary {
  organizations: number;
  synced: number;
  vehicles: number;
  disconnected: string[];
  failed: { orgId: string; code: string }[];
}

const PAGE = 100;

/**
 * Syncs every organization `tokens` holds. The organizations stream from the store (never all
 * in memory), `concurrency` workers pull from that one stream, and each organization gets an SDK
 * client of its own: `new SamsaraClient(tokens.forOrg(orgId))`.
 */
export async function syncOrganizations(tokens: TokenManager, options: SyncOptions = {}): Promise<SyncSummary> {
  const { concurrency = 4, maxRateLimitWait = 30_000, log = () => undefined } = options;
  const summary: SyncSummary = { organizations: 0, synced: 0, vehicles: 0, disconnected: [], failed: [] };
  // One iterator, many workers: an async generator queues concurrent next() calls.
  const organizations = tokens.organizations();
  const worker = async (): Promise<void> => {
    for (let next = await organizations.next(); !next.done; next = await organizations.next()) {
      const org = next.value;
      summary.organizations++;
      const client = new SamsaraClient(tokens.forOrg(org.orgId, { maxRateLimitWait }));
      let count = 0;
      try {
        for await (const _vehicle of await client.vehicles.list({ limit: PAGE })) {
          options.progress?.vehicles(1);
          // A real job writes each page to its database here.
          if (++count % PAGE !== 0) continue;
          if (count % (5 * PAGE) === 0) log(`… ${org.orgId}: ${count} vehicles so far`);
          await options.onPage?.(org, count);
        }
        summary.synced++;
        summary.vehicles += count;
        options.progress?.organizationDone();
        log(`✓ ${org.orgId} (${org.region ?? 'default region'}): ${count} vehicles`);
      } catch (err) {
        options.progress?.organizationDone();
        // A dead grant reaches here as ReauthorizationRequiredError when the token supplier found
        // it, or behind the SDK's own 401 when it died during a call: samsaraErrorOf finds both.
        const reason = samsaraErrorOf(err);
        if (reason instanceof ReauthorizationRequiredError) {
          // The manager has already removed its credentials (Samsara refused the grant), so it is
          // no longer listed. An app would mark the customer disconnected and ask them to reconnect.
          summary.disconnected.push(org.orgId);
          log(`✗ ${org.orgId}: disconnected after ${count} vehicles (${reason.code}: sign in again)`);
        } else {
          summary.failed.push({ orgId: org.orgId, code: reason?.code ?? (err as Error).name });
          log(`! ${org.orgId}: failed after ${count} vehicles (${reason?.code ?? (err as Error).message})`);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return summary;
}

/** One line per event the job cares about: what on-call engineers would send to their logs. */
function logEvents(log: (line: string) => void): void {
  const show = (channel: string, outcomes?: string[]) =>
    subscribe(channel, (message) => {
      const { orgId, outcome, durationMs, region, code } = message as SamsaraEvent;
      if (outcomes && !outcomes.includes(outcome)) return;
      const extra = [region, code].filter(Boolean).join(', ');
      log(`  [${channel}] ${orgId || '-'} ${outcome} in ${Math.round(durationMs)} ms${extra ? ` (${extra})` : ''}`);
    });
  show(SAMSARA_CHANNELS.refresh, ['refreshed', 'failed']);
  show(SAMSARA_CHANNELS.lockWait);
  show(SAMSARA_CHANNELS.reauthorize);
  // The fleet's pacing ('paced') is counted by the progress bar; Samsara's 429s are worth a line.
  show(SAMSARA_CHANNELS.rateLimit, ['waiting', 'gave-up']);
  show(SAMSARA_CHANNELS.storeFailure);
}

interface Setup {
  tokens: TokenManager;
  /** How many organizations there are, when known (the demo's). */
  total?: number;
  onPage?: SyncOptions['onPage'];
  close(): Promise<void>;
}

/** The demo: two regions' emulators, three organizations, one uninstalling mid-run. */
async function demo(log: (line: string) => void): Promise<Setup> {
  const us = await startSamsaraEmulator({
    clients: [{ clientId: 'demo-us-app', clientSecret: 'demo-us-secret' }],
    organizations: [
      { id: '1001', name: "Charlie's Dining Services", vehicleCount: 1200 },
      { id: '1002', name: 'Acme Freight', vehicleCount: 450 },
    ],
  });
  const eu = await startSamsaraEmulator({
    clients: [{ clientId: 'demo-eu-app', clientSecret: 'demo-eu-secret' }],
    organizations: [{ id: '2001', name: 'Nordic Haulage', vehicleCount: 800 }],
  });
  const handle = (e: SamsaraEmulator) => ({ clientID: e.clientID, clientSecret: e.clientSecret, baseURL: e.baseURL });
  const tokens = new TokenManager({ clients: { us: handle(us), eu: handle(eu) } });
  const signIn = async (emulator: SamsaraEmulator, orgId: string, region: 'us' | 'eu', expiresIn: number) => {
    const grant = emulator.issueGrant(orgId);
    const { accessToken, refreshToken } = grant;
    await tokens.connect(orgId, { accessToken, refreshToken, expiresAt: Date.now() + expiresIn, region });
  };
  // 1001's token has expired here: its first call refreshes it.
  await signIn(us, '1001', 'us', -1_000);
  await signIn(us, '1002', 'us', 3600_000);
  await signIn(eu, '2001', 'eu', 3600_000);
  // Samsara's rate limit, with its fractional Retry-After (the SDK alone would ignore 0.75 s).
  us.injectFault('api', { type: 'status', status: 429, headers: { 'retry-after': '0.75' } });
  log(`demo: US Samsara at ${us.baseURL} (1001, 1002), EU Samsara at ${eu.baseURL} (2001)`);
  let uninstalled = false;
  return {
    tokens,
    total: 3,
    onPage: async (org) => {
      if (org.orgId !== '1002' || uninstalled) return;
      uninstalled = true;
      // The customer uninstalls the app: Samsara revokes its grant while the job is listing.
      const creds = await tokens.credentials('1002');
      await new OAuthClient({ ...handle(us) }).revoke(creds.refreshToken);
      log('demo: 1002 uninstalled the app in the middle of its listing');
    },
    close: async () => {
      // A refresh's write lands behind its callers: it is finished before the process lets go.
      await tokens.idle();
      await us.stop();
      await eu.stop();
    },
  };
}

/** The real thing: apps and store from the environment. */
async function configured(log: (line: string) => void): Promise<Setup> {
  const chosen = await tokenStoreFromEnv();
  const store = chosen.store;
  if (store instanceof MemoryTokenStore) {
    log(
      'Neither DATABASE_URL nor REDIS_URL is set: the memory store holds no organization, so there is nothing to sync.',
    );
  }
  const env = process.env;
  const tokens = env.SAMSARA_EU_CLIENT_ID
    ? new TokenManager({
        store,
        clients: {
          us: {
            clientID: env.SAMSARA_CLIENT_ID,
            clientSecret: env.SAMSARA_CLIENT_SECRET,
            baseURL: env.SAMSARA_BASE_URL,
          },
          eu: {
            clientID: env.SAMSARA_EU_CLIENT_ID,
            clientSecret: env.SAMSARA_EU_CLIENT_SECRET,
            baseURL: env.SAMSARA_EU_BASE_URL,
          },
        },
      })
    : new TokenManager({ store });
  return {
    tokens,
    close: async () => {
      await tokens.idle();
      await chosen.close();
    },
  };
}

async function main(): Promise<void> {
  let progress: SyncProgress | undefined;
  // Above the bar while it is drawn, as they are before and after.
  const log = (line: string): void => (progress ? progress.log(line) : console.log(line));
  const setup = process.env.SAMSARA_CLIENT_ID ? await configured(log) : await demo(log);
  progress = syncProgress(process.stdout, setup.total);
  logEvents(log);
  const started = Date.now();
  try {
    const summary = await syncOrganizations(setup.tokens, {
      concurrency: Number(process.env.SYNC_CONCURRENCY ?? 4),
      log,
      progress,
      ...(setup.onPage && { onPage: setup.onPage }),
    });
    progress.stop();
    progress = undefined;
    log(
      `sync: ${summary.synced} of ${summary.organizations} organizations synced (${summary.vehicles} vehicles) in ${Date.now() - started} ms; ` +
        `disconnected: ${summary.disconnected.join(', ') || 'none'}; failed: ${summary.failed.map((f) => `${f.orgId} (${f.code})`).join(', ') || 'none'}`,
    );
    if (summary.failed.length > 0) process.exitCode = 1;
  } finally {
    progress?.stop();
    await setup.close();
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
