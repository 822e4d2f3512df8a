import type { SamsaraRegion } from '../endpoints.js';
import { codeOf, listening, publish } from '../events.js';
import type { WebhookOutcome } from './grant-webhooks.js';

/**
 * An organization's grant became current: a sign-in (`'connected'` when the organization had no
 * current grant, `'reconnected'` when the new grant replaced one).
 *
 * @example
 * ```ts
 * new TokenManager({ onConnect: ({ orgId, reason }: ConnectEvent) => accounts.markConnected(orgId, reason) });
 * ```
 */
export interface ConnectEvent {
  orgId: string;
  reason: 'connected' | 'reconnected';
  /** The region whose OAuth app issued the grant. */
  region: SamsaraRegion;
  /** What became of the organization's webhook, when the manager keeps webhooks (its `webhooks` option). */
  webhook?: WebhookOutcome;
}

/**
 * Every grant the app held for an organization was revoked at Samsara and forgotten
 * (`tokens.revoke`: your Disconnect, or a job). A Disconnect whose revoke failed is not one: the
 * organization stays connected.
 *
 * @example
 * ```ts
 * new TokenManager({ onDisconnect: ({ orgId }: DisconnectEvent) => accounts.markDisconnected(orgId) });
 * ```
 */
export interface DisconnectEvent {
  orgId: string;
  reason: 'revoked';
  /** How many grants were revoked (the current one and the retired ones). */
  grants: number;
  /** What became of the organization's webhook, deleted before the revoke, when the manager keeps webhooks. */
  webhook?: WebhookOutcome;
}

/**
 * Samsara refused the organization's refresh token (`invalid_grant`: the grant was revoked in
 * Samsara or the app uninstalled) and this process's conditional removal of its credentials won:
 * an admin must connect again. Told once per dead grant across every process on the store.
 *
 * @example
 * ```ts
 * new TokenManager({ onReauthorizationRequired: ({ orgId }: ReauthorizationRequiredEvent) => accounts.markNeedsReconnect(orgId) });
 * ```
 */
export interface ReauthorizationRequiredEvent {
  orgId: string;
  reason: 'grant-dead';
}

/**
 * What the host hears of a grant's lifecycle, so that its own records (an accounts table's
 * "connected" column, an email to the customer's admin) follow the grant. Each hook is told once
 * per event across the fleet, by the process where it happened; put the same hooks on every
 * process's `TokenManager` (web and jobs), since any of them may be that process.
 *
 * `onConnect` and `onDisconnect` are awaited before the call that caused them returns (the page
 * after a sign-in or a Disconnect sees the host's record updated); `onReauthorizationRequired`
 * runs beside the failing call (`tokens.idle()` waits for it). A hook that throws or rejects
 * changes nothing: the grant is kept or revoked as it was, the call succeeds, and the failure is
 * published on `SAMSARA_CHANNELS.hookFailure` (a process warning `SAMSARA_HOOK_FAILED` when
 * nobody subscribes).
 *
 * @example
 * ```ts
 * const hooks: LifecycleHooks = {
 *   onConnect: async ({ orgId }) => db.accounts.update({ orgId }, { samsara: 'connected' }),
 *   onDisconnect: async ({ orgId }) => db.accounts.update({ orgId }, { samsara: 'disconnected' }),
 *   onReauthorizationRequired: async ({ orgId }) => db.accounts.update({ orgId }, { samsara: 'reconnect' }),
 * };
 * const tokens = new TokenManager({ store, ...hooks });
 * ```
 */
export interface LifecycleHooks {
  onConnect?: (event: ConnectEvent) => void | PromiseLike<void>;
  onDisconnect?: (event: DisconnectEvent) => void | PromiseLike<void>;
  onReauthorizationRequired?: (event: ReauthorizationRequiredEvent) => void | PromiseLike<void>;
}

type HookName = keyof LifecycleHooks;
type EventOf<K extends HookName> = Parameters<NonNullable<LifecycleHooks[K]>>[0];

/** The hooks a manager tells, in the order they were added; a failing one never stops the others. */
export class Lifecycle {
  readonly #hooks = new Set<LifecycleHooks>();

  constructor(hooks: LifecycleHooks | undefined) {
    if (hooks) this.add(hooks);
  }

  /** Adds hooks; the function returned takes them out again. */
  add(hooks: LifecycleHooks): () => void {
    // A copy: the caller's object may change later, or carry other options (a TokenManagerOptions).
    const own: LifecycleHooks = {
      ...(hooks.onConnect && { onConnect: hooks.onConnect }),
      ...(hooks.onDisconnect && { onDisconnect: hooks.onDisconnect }),
      ...(hooks.onReauthorizationRequired && { onReauthorizationRequired: hooks.onReauthorizationRequired }),
    };
    this.#hooks.add(own);
    return () => void this.#hooks.delete(own);
  }

  /** Tells every `name` hook about `event`, one after the other; never rejects. */
  async tell<K extends HookName>(name: K, event: EventOf<K>): Promise<void> {
    for (const hooks of [...this.#hooks]) {
      const hook = hooks[name] as ((event: EventOf<K>) => void | PromiseLike<void>) | undefined;
      if (!hook) continue;
      const started = performance.now();
      try {
        await hook({ ...event });
      } catch (err) {
        reportFailure(name, event.orgId, err, performance.now() - started);
      }
    }
  }
}

/** A hook's failure, where the host will see it: the channel, or a process warning. */
function reportFailure(hook: HookName, orgId: string, err: unknown, durationMs: number): void {
  if (listening('hookFailure')) {
    publish('hookFailure', () => ({ orgId, outcome: hook, durationMs, code: codeOf(err), error: err }));
    return;
  }
  // Only the error's name: its message is the host's own text, which this package does not log.
  process.emitWarning(
    `passport-samsara: the ${hook} hook failed for organization ${orgId} (${codeOf(err)}); the grant is unaffected. Subscribe to SAMSARA_CHANNELS.hookFailure to receive the error.`,
    { code: 'SAMSARA_HOOK_FAILED' },
  );
}
