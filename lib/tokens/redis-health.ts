import { RedisEpoch } from './redis-epoch.js';
import { checkRedisConfig } from './redis-config.js';
import type { RedisClientLike } from './redis-client.js';
import type { StoreHealth } from './store.js';

/** What the watch needs of its store. */
export interface VigilSource {
  client: RedisClientLike;
  prefix: string;
  /** How long `report()` answers `lost-data` after a loss was noticed, in ms. */
  reportLossFor: number;
  call: <T>(what: string, command: () => Promise<T>) => Promise<T>;
  /** Where configuration warnings go. */
  warn: (message: string, code: string) => void;
}

const noop = (): void => {};

/**
 * The vigils of each client, told by one listener per client (however many stores share it: one
 * per tenant prefix would otherwise pass EventEmitter's listener limit). Weakly: a store dropped
 * without `close()` is not kept alive by its client.
 */
const vigils = new WeakMap<RedisClientLike, Set<WeakRef<RedisVigil>>>();

function vigilsOf(client: RedisClientLike): Set<WeakRef<RedisVigil>> {
  let set = vigils.get(client);
  if (!set) {
    const live = (set = new Set());
    const reconnected = (): void => {
      for (const ref of live) {
        const vigil = ref.deref();
        if (vigil) vigil.reconnected();
        else live.delete(ref);
      }
    };
    client.on?.('ready', reconnected);
    // A Cluster announces a promoted replica, or a restarted master, as a new node.
    if (client.isCluster) client.on?.('+node', reconnected);
    vigils.set(client, live);
  }
  return set;
}

/**
 * Whether a `RedisTokenStore` can be trusted with tokens: its configuration, read once at first
 * use (warnings, in the background), and its memory (the epoch marker), checked at first use,
 * whenever the connection is ready again (a restart or a failover always reconnects), on each
 * `report()`, and when the manager asks about a key it found empty.
 */
export class RedisVigil {
  readonly #epoch: RedisEpoch;
  readonly #self = new WeakRef(this);
  #started = false;

  constructor(private readonly source: VigilSource) {
    this.#epoch = new RedisEpoch(source);
    vigilsOf(source.client).add(this.#self);
  }

  /**
   * At the store's first command, in the background: the first marker read, then (the client is
   * connected by then, and a Cluster knows its masters) the configuration check.
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const { client, call, warn } = this.source;
    this.#epoch
      .check('reconnect')
      .catch(noop)
      .then(() => checkRedisConfig(client, call, warn))
      .catch(noop);
  }

  /** The connection is ready again: a restart or a failover may have emptied Redis. */
  reconnected(): void {
    this.#epoch.check('reconnect').catch(noop);
  }

  /** A ping, then every epoch marker: see {@link StoreHealth}. */
  async report(): Promise<StoreHealth> {
    const { client, call, reportLossFor } = this.source;
    try {
      await call('ping', () => (client as unknown as { ping(): Promise<unknown> }).ping());
      await this.#epoch.check('health');
    } catch (err) {
      return { status: 'unavailable', reason: (err as Error).message, ...this.#since() };
    }
    const { lostAt } = this.#epoch;
    if (lostAt !== undefined && Date.now() - lostAt < reportLossFor) {
      return {
        status: 'lost-data',
        reason: `The token store (Redis) lost its data at ${new Date(lostAt).toISOString()} (its epoch marker vanished: a restart without persistence, FLUSHALL, or a failover to an empty replica). Every organization it held must sign in again; their grants stay live at Samsara until then.`,
        lostAt,
      };
    }
    return { status: 'ok', reason: '', ...this.#since() };
  }

  /** Whether `credKey`, found empty, was lost with the store's memory (see `TokenStore.lost`). */
  async lost(credKey: string): Promise<boolean> {
    await this.#epoch.check('miss');
    if (this.#epoch.lostAt === undefined) return false;
    const { client, call } = this.source;
    // A tombstone or a retired grant is history written since the loss: that key was not lost.
    const exists = await call('read', () =>
      (client as unknown as { exists(key: string): Promise<number> }).exists(credKey),
    );
    return exists === 0;
  }

  close(): void {
    vigilsOf(this.source.client).delete(this.#self);
  }

  #since(): { lostAt?: number } {
    const { lostAt } = this.#epoch;
    return lostAt === undefined ? {} : { lostAt };
  }
}
