import { ConfigurationError, StoreUnavailableError } from '../errors/index.js';
import { numberOption } from '../number-option.js';

/**
 * How long {@link RedisTokenStore} waits for a write that carries a new refresh token (a refresh,
 * a sign-in) to become durable before it counts the tokens as saved. Samsara has already spent
 * the old refresh token, so a rotation that a failover loses is a grant lost.
 *
 * @example
 * ```ts
 * const durability: RedisDurabilityOptions = { replicas: 1, timeoutMs: 500 };
 * ```
 */
export interface RedisDurabilityOptions {
  /**
   * Replicas that must acknowledge the write (`WAIT`). `'auto'` (the default): every replica
   * connected to the primary that took the write, as its `INFO replication` says at that moment,
   * so a standalone Redis waits for nothing. 0: never wait (the rotation may die with the primary).
   */
  replicas?: 'auto' | number;
  /**
   * Milliseconds to wait for them (and, where the server has `WAITAOF` and `appendonly` is on, for
   * the primary's own fsync). Must stay below the store's `timeout`. Default 1000, or half the
   * store's `timeout` when that is shorter.
   */
  timeoutMs?: number;
}

/** The pipeline calls a durable write makes, typed alike for ioredis 5, 6 and Cluster. */
export interface DurablePipeline {
  call(command: string, ...args: (string | number)[]): DurablePipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/**
 * The write script sent alone. With `primary`, a write that landed answers with how the primary
 * that took it stands, read from its `INFO` inside the script: `[version, connected replicas,
 * 1 if its append-only file is on]`. Without, its version. Null: it did not land.
 */
export type SendWrite = (primary: boolean) => Promise<number | [number, number, number] | null>;

/** The same write queued on the pipeline given (without the primary's state), to be waited for. */
export type QueueWrite = (pipeline: DurablePipeline) => DurablePipeline;

/**
 * Writes with a durability check: the write, whose script reads the primary's `INFO` itself, in
 * one command; then, when there is anything to wait for, the same write again (idempotent: a write
 * that already landed only touches the key, one that a failover lost lands again expecting the
 * same version) followed by `WAIT` or `WAITAOF` on the same connection. Writing again is what makes
 * the wait count this write, whatever else the connection did or whichever node it reconnected to.
 */
export class RedisDurability {
  readonly #replicas: 'auto' | number;
  readonly #timeoutMs: number;
  /** Set once a server answered that it has no `WAITAOF` (before Redis 7.2). */
  #noWaitAof = false;

  constructor(options: RedisDurabilityOptions | undefined, storeTimeout: number) {
    const replicas = options?.replicas ?? 'auto';
    this.#replicas =
      replicas === 'auto'
        ? 'auto'
        : numberOption('RedisTokenStore', 'durability.replicas', replicas, 0, { min: 0, integer: true });
    // The default leaves the operation room for its two round trips around the wait.
    const fallback = Math.max(1, Math.min(1000, Math.floor(storeTimeout / 2)));
    this.#timeoutMs = numberOption('RedisTokenStore', 'durability.timeoutMs', options?.timeoutMs, fallback, {
      min: 1,
      integer: true,
    });
    if (this.#timeoutMs >= storeTimeout) {
      throw new ConfigurationError(
        `RedisTokenStore durability.timeoutMs (${this.#timeoutMs}) must be below the store's timeout (${storeTimeout}): the wait would outlast the operation.`,
      );
    }
  }

  /** Whether writes wait at all (`replicas: 0` turns it off). */
  get enabled(): boolean {
    return this.#replicas !== 0;
  }

  /**
   * Sends the write and returns its version once it is durable (null: it did not land); throws
   * `StoreUnavailableError` when the replicas did not acknowledge it in time (the write may stand
   * on the primary alone: unsaved).
   */
  async write(send: SendWrite, pipeline: () => DurablePipeline, queue: QueueWrite): Promise<number | null> {
    if (!this.enabled) return send(false) as Promise<number | null>;
    const answer = await send(true);
    // A write that did not land (a lost compare-and-set) has nothing to make durable.
    if (answer === null) return null;
    if (!Array.isArray(answer)) throw new Error("The write script did not report its primary's state.");
    const [version, connected, aofOn] = answer;
    const replicas = this.#replicas === 'auto' ? connected : this.#replicas;
    const aof = aofOn === 1 && !this.#noWaitAof;
    if (replicas === 0 && !aof) return version;
    const again = await this.#wait(pipeline, queue, replicas, aof);
    return replyOf(again, 0) as number | null;
  }

  async #wait(
    pipeline: () => DurablePipeline,
    write: QueueWrite,
    replicas: number,
    aof: boolean,
  ): Promise<[Error | null, unknown][] | null> {
    const queued = write(pipeline());
    const replies = await (
      aof ? queued.call('WAITAOF', 1, replicas, this.#timeoutMs) : queued.call('WAIT', replicas, this.#timeoutMs)
    ).exec();
    const [err, acks] = replies?.[1] ?? [new Error('no reply'), null];
    if (err && aof && /unknown command/i.test(err.message)) {
      this.#noWaitAof = true;
      return this.#wait(pipeline, write, replicas, false);
    }
    if (err) throw err;
    // WAIT: replicas that acknowledged. WAITAOF: [local fsyncs, replicas that fsynced].
    const [local, remote] = Array.isArray(acks) ? [Number(acks[0]), Number(acks[1])] : [1, Number(acks)];
    if (local >= 1 && remote >= replicas) return replies;
    throw new StoreUnavailableError(
      `The token store (Redis) took the write, but only ${remote} of ${replicas} replicas${aof && !local ? ' (and not its own append-only file)' : ''} confirmed it within ${this.#timeoutMs} ms: a failover now would lose it. The tokens are kept in this process and written again.`,
    );
  }
}

/** The reply of the `index`th command of a pipeline; its error, thrown. */
function replyOf(replies: [Error | null, unknown][] | null, index: number): unknown {
  const entry = replies?.[index];
  if (!entry) throw new Error('Redis answered an empty pipeline (the connection was reset).');
  if (entry[0]) throw entry[0];
  return entry[1];
}
