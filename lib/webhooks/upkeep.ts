import { BadResponseError, ConfigurationError, SamsaraError } from '../errors/index.js';
import type {
  GrantWebhooks,
  GrantWebhooksFactory,
  ReconcileOptions,
  ReconcileReport,
  WebhookOutcome,
  WebhookUpkeepTokens,
} from '../tokens/grant-webhooks.js';

import type { StoredWebhook, TokenStore } from '../tokens/store.js';
import {
  SAMSARA_WEBHOOK_EVENT_TYPES,
  SAMSARA_WEBHOOK_VERSIONS,
  type SamsaraWebhookEventType,
  type SamsaraWebhookVersion,
} from './event-types.js';
import { WebhooksApi, type LiveWebhook, type WebhookSettings } from './upkeep-api.js';

/**
 * Options of {@link organizationWebhooks}.
 *
 * @example
 * ```ts
 * const options: OrganizationWebhooksOptions = { url: 'https://app.example/samsara/webhooks', eventTypes: ['VehicleCreated'] };
 * ```
 */
export interface OrganizationWebhooksOptions {
  /**
   * Where Samsara delivers: the app's `samsaraWebhooks` route, an https URL; or a function that
   * gives it when it is first needed (a server that learns its port once it listens).
   */
  url: string | (() => string);
  /**
   * The webhook's name, which tells it apart from the organization's other webhooks (other apps',
   * the dashboard's). Default: `passport-samsara <the URL's host>`.
   */
  name?: string;
  /**
   * The event types it receives. Default: every one this package knows
   * (`SAMSARA_WEBHOOK_EVENT_TYPES`): a webhook that lists none receives no event, only alerts.
   */
  eventTypes?: readonly SamsaraWebhookEventType[];
  /** The payload version. Default: the newest, `2024-02-27`. */
  version?: SamsaraWebhookVersion;
}

/** The newest payload version, the default. */
const NEWEST_VERSION: SamsaraWebhookVersion = '2024-02-27';
/** How long one organization's upkeep may hold its claim: past it, a process that died lets go. */
const UPKEEP_TTL = 30_000;
/** Between two looks at a claim another process holds. */
const UPKEEP_POLL = 100;
/** Codes after which a Disconnect revokes anyway: the webhook cannot be reached with this grant. */
const UNREACHABLE = new Set(['SAMSARA_WEBHOOK_SCOPE', 'SAMSARA_REAUTHORIZE']);

/**
 * One webhook per connected organization, kept by the grant's lifecycle: the `webhooks` option of
 * `TokenManager`. Samsara has no webhook for all of an app's customers: each organization's is
 * made with its own token (`POST /webhooks`, the Read and Write Webhooks scopes). So:
 *
 * - at every sign-in, the organization's webhook is looked up by name and URL (by the id kept,
 *   first) and created only when there is none: a second sign-in does not duplicate it; its
 *   `secretKey` is kept sealed beside the grant (`TokenStore.saveWebhook`), where `samsaraWebhooks`
 *   finds it to verify the organization's deliveries. A failure (`SAMSARA_WEBHOOK_SCOPE`: the
 *   grant lacks the scopes) never fails the sign-in: `onConnect` hears it in `webhook`;
 * - Disconnect deletes it before it revokes the grant (a grant revoked can delete nothing);
 * - `tokens.webhooks.reconcile()` repairs drift for every connected organization: a webhook
 *   deleted, its URL, event types or version changed, a secret the store does not know (a store
 *   that lost its memory), and duplicates of it.
 *
 * Each organization is kept by one process at a time, and every write waits for a slot of the
 * organization's write budget (at most 93 in any minute, Samsara allows 100), both claimed in the
 * token store: the whole fleet counts together. The store needs `claim`, `webhook` and
 * `saveWebhook` (`MemoryTokenStore`, `RedisTokenStore` and `PostgresTokenStore` have them).
 *
 * @param options - where deliveries go, and what they carry.
 * @returns the `webhooks` option of `TokenManager`.
 * @throws `ConfigurationError` (when the manager is built) for a URL that is not https, or a store
 *   without the methods above.
 *
 * @example
 * ```ts
 * const tokens = new TokenManager({ store, webhooks: organizationWebhooks({ url: 'https://app.example/samsara/webhooks' }) });
 * app.post('/samsara/webhooks', samsaraWebhooks({ tokens, handlers })); // the secrets: the store's
 * setInterval(() => void tokens.webhooks?.reconcile(), 3600_000).unref();
 * ```
 */
export function organizationWebhooks(options: OrganizationWebhooksOptions): GrantWebhooksFactory {
  const { url } = options;
  let settings = typeof url === 'function' ? undefined : settingsOf(options, url);
  return (tokens) =>
    new OrganizationWebhooks(tokens, () => (settings ??= settingsOf(options, (url as () => string)())));
}

type UpkeepStore = Required<Pick<TokenStore, 'claim' | 'webhook' | 'saveWebhook'>>;

class OrganizationWebhooks implements GrantWebhooks {
  readonly #tokens: WebhookUpkeepTokens;
  readonly #store: UpkeepStore;
  readonly #api: WebhooksApi;
  readonly #settings: () => WebhookSettings;

  constructor(tokens: WebhookUpkeepTokens, settings: () => WebhookSettings) {
    const { store } = tokens;
    if (typeof store.claim !== 'function' || typeof store.webhook !== 'function' || !store.saveWebhook) {
      throw new ConfigurationError(
        'organizationWebhooks keeps each webhook in the token store, and this store lacks claim(), webhook() or saveWebhook(): use MemoryTokenStore, RedisTokenStore or PostgresTokenStore, or implement them (see the TokenStore contract).',
      );
    }
    this.#tokens = tokens;
    this.#store = store as TokenStore & UpkeepStore;
    this.#api = new WebhooksApi(tokens, this.#store, tokens.clock);
    this.#settings = settings;
  }

  /** What the webhook should be (a `url` function is asked once, when first needed). */
  get #wanted(): WebhookSettings {
    return this.#settings();
  }

  async connected(orgId: string): Promise<WebhookOutcome> {
    const outcome = await this.#ensure(orgId).catch((err: unknown) => failure(err));
    if (outcome.status === 'failed') {
      process.emitWarning(
        `passport-samsara: the webhook of organization ${orgId} was not set up (${outcome.code}); the grant is kept. ${outcome.message}`,
        { code: outcome.code },
      );
    }
    return outcome;
  }

  async disconnecting(orgId: string): Promise<WebhookOutcome> {
    try {
      return await this.#exclusive(orgId, async () => {
        const stored = await this.#store.webhook(orgId);
        const ours = (await this.#api.list(orgId)).filter((live) => this.#isOurs(live, stored));
        for (const live of ours) await this.#api.remove(orgId, live.id);
        if (stored) await this.#store.saveWebhook(orgId, null, stored.id);
        const first = ours.at(0);
        return first ? { status: 'deleted', webhookId: first.id } : { status: 'absent' };
      });
    } catch (err) {
      // This grant cannot reach the webhook (no scope, or the grant is dead): the revoke goes on.
      if (err instanceof SamsaraError && UNREACHABLE.has(err.code)) return failure(err);
      throw err;
    }
  }

  async reconcile(options: ReconcileOptions = {}): Promise<ReconcileReport> {
    const concurrency = options.concurrency ?? 4;
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) {
      throw new ConfigurationError(`reconcile option concurrency must be a whole number >= 1, not ${concurrency}.`);
    }
    const report: ReconcileReport = { organizations: 0, created: 0, repaired: 0, unchanged: 0, failed: [] };
    const organizations = this.#tokens.organizations();
    const worker = async (): Promise<void> => {
      for (;;) {
        if (options.signal?.aborted) return;
        const next = await organizations.next();
        if (next.done) return;
        const { orgId } = next.value;
        report.organizations++;
        const outcome = await this.#ensure(orgId).catch((err: unknown) => failure(err));
        if (outcome.status === 'failed') report.failed.push({ orgId, code: outcome.code });
        else if (outcome.status === 'created') report.created++;
        else if (outcome.status === 'repaired') report.repaired++;
        else report.unchanged++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return report;
  }

  /** Makes the organization's webhook what it should be, and its record in the store match it. */
  #ensure(orgId: string): Promise<WebhookOutcome> {
    return this.#exclusive(orgId, async () => {
      const stored = await this.#store.webhook(orgId);
      const live = await this.#api.list(orgId);
      const ours = live.filter((webhook) => this.#isOurs(webhook, stored));
      // The one to keep: the one the store knows, else one at the URL, else the first of ours.
      const kept =
        ours.find((webhook) => webhook.id === stored?.id) ??
        ours.find((webhook) => webhook.url === this.#wanted.url) ??
        ours.at(0);
      for (const extra of ours) if (extra !== kept) await this.#api.remove(orgId, extra.id);
      let status: 'created' | 'found' | 'repaired' = 'found';
      let current: LiveWebhook;
      if (!kept || (kept.secretKey === undefined && kept.id !== stored?.id)) {
        // None, or one whose secret nobody here knows and Samsara does not show: made anew.
        if (kept) await this.#api.remove(orgId, kept.id);
        current = await this.#api.create(orgId, this.#wanted);
        status = kept ? 'repaired' : 'created';
      } else {
        const drift = this.#driftOf(kept);
        current = drift ? await this.#api.update(orgId, kept.id, drift) : kept;
        if (drift) status = 'repaired';
      }
      const secretKey = current.secretKey ?? (current.id === stored?.id ? stored.secretKey : undefined);
      if (secretKey === undefined) {
        throw new BadResponseError(`Samsara showed the webhook of organization ${orgId} without its secretKey.`);
      }
      const record: StoredWebhook = { id: current.id, url: current.url, secretKey };
      if (stored?.id !== record.id || stored.secretKey !== record.secretKey || stored.url !== record.url) {
        if (!(await this.#store.saveWebhook(orgId, record, stored?.id ?? null))) {
          throw new SamsaraError(
            `The webhook record of organization ${orgId} changed while it was being repaired; the next reconcile() looks again.`,
            { code: 'SAMSARA_WEBHOOK_UPKEEP', status: 503 },
          );
        }
        if (status === 'found') status = 'repaired';
      }
      return { status, webhookId: current.id };
    });
  }

  /** Whether a webhook of the organization is this app's: the one the store knows, or one of its name. */
  #isOurs(webhook: LiveWebhook, stored: StoredWebhook | null): boolean {
    return webhook.id === stored?.id || webhook.name === this.#wanted.name;
  }

  /** The fields to set back, or undefined when none drifted. */
  #driftOf(webhook: LiveWebhook): Partial<WebhookSettings> | undefined {
    const wanted = this.#wanted;
    const drift: Partial<WebhookSettings> = {
      ...(webhook.name !== wanted.name && { name: wanted.name }),
      ...(webhook.url !== wanted.url && { url: wanted.url }),
      ...(webhook.version !== wanted.version && { version: wanted.version }),
      ...(!sameTypes(webhook.eventTypes, wanted.eventTypes) && { eventTypes: wanted.eventTypes }),
    };
    return Object.keys(drift).length > 0 ? drift : undefined;
  }

  /** Runs `work` for the organization while no other process does (a claim in the store). */
  async #exclusive<T>(orgId: string, work: () => Promise<T>): Promise<T> {
    const { clock } = this.#tokens;
    const deadline = clock.now() + UPKEEP_TTL;
    for (;;) {
      const taken = await this.#store.claim(`webhook-upkeep:${orgId}`, UPKEEP_TTL);
      if (taken.claim) {
        try {
          return await work();
        } finally {
          await taken.claim.release().catch(() => undefined);
        }
      }
      if (clock.now() >= deadline) {
        throw new SamsaraError(`Another process has been keeping the webhook of organization ${orgId} for too long.`, {
          code: 'SAMSARA_WEBHOOK_UPKEEP',
          status: 503,
        });
      }
      await clock.sleep(UPKEEP_POLL);
    }
  }
}

function settingsOf(options: OrganizationWebhooksOptions, given: unknown): WebhookSettings {
  const url = typeof given === 'string' && URL.canParse(given) ? new URL(given) : undefined;
  const loopback = url && /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/.test(url.hostname);
  if (!url || !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback))) {
    throw new ConfigurationError(
      'organizationWebhooks option url must be an https URL (Samsara delivers to https only; http on a loopback host, for the emulator).',
    );
  }
  const version: string = options.version ?? NEWEST_VERSION;
  if (!(SAMSARA_WEBHOOK_VERSIONS as readonly string[]).includes(version)) {
    throw new ConfigurationError(
      `organizationWebhooks option version must be one of ${SAMSARA_WEBHOOK_VERSIONS.join(', ')}.`,
    );
  }
  const name = options.name ?? `passport-samsara ${url.host}`;
  if (typeof name !== 'string' || name.trim() === '') {
    throw new ConfigurationError('organizationWebhooks option name must be a non-empty string.');
  }
  return { name, url: given as string, version, eventTypes: [...(options.eventTypes ?? SAMSARA_WEBHOOK_EVENT_TYPES)] };
}

function sameTypes(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

/** A failed step as the hooks and the report hear it: a stable code, and the error's message. */
function failure(err: unknown): WebhookOutcome {
  const code = err instanceof SamsaraError ? err.code : 'SAMSARA_WEBHOOK_UPKEEP';
  const message = err instanceof Error ? err.message : String(err);
  return { status: 'failed', code, message };
}
