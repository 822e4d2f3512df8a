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
 * Whether a `RedisTokenStore` can be trusted with tokens: its configuration, read once at first
 * use (warnings, in the background), and its memory (the epoch marker), checked at first use,
 * whenever the connection is ready again (a restart or a failover always reconnects), on each
 * `report()`, and when the manager asks about a key it found empty.
 */
export class RedisVigil {
  readonly #epoch: RedisEpoch;
  readonly #onReconnect = (): void => void this.#epoch.check('reconnect').catch(noop);
  #started = false;

  constructor(private readonly source: VigilSource) {
    this.#epoch = new RedisEpoch(source);
    source.client.on?.('ready', this.#onReconnect);
    // A Cluster announces a promoted replica, or a restarted master, as a new node.
    if (source.client.isCluster) source.client.on?.('+node', this.#onReconnect);
  }

  /** At the store's first command: the first marker read and the configuration check, in the background. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#epoch.check('reconnect').catch(noop);
    checkRedisConfig(this.source.client, this.source.call, this.source.warn).catch(noop);
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
    this.source.client.off?.('ready', this.#onReconnect);
    this.source.client.off?.('+node', this.#onReconnect);
  }

  #since(): { lostAt?: number } {
    const { lostAt } = this.#epoch;
    return lostAt === undefined ? {} : { lostAt };
  }
}
