import { randomBytes } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import type { StoreLostEvent } from '../events.js';
import type { RedisClientLike } from './redis-client.js';
import { epochKeyOf, epochTagOf } from './redis-schema.js';
import { defineScripts, script } from './redis-scripts.js';
import { SingleFlight } from './single-flight.js';
import { publishStoreLost } from './store-failure.js';

/** Reads a marker, or writes `fresh` there when it is missing: { value, 1 if written }. */
const READ_OR_CREATE = script(
  ['marker'],
  ['fresh'],
  `
local v = redis.call('GET', marker)
if v then return { v, 0 } end
redis.call('SET', marker, fresh)
return { fresh, 1 }`,
);

/** What the epoch needs of its store. */
export interface EpochSource {
  client: RedisClientLike;
  /** The store's prefix: the markers live beside the credentials, under it. */
  prefix: string;
  call<T>(what: string, command: () => Promise<T>): Promise<T>;
}

interface Marker {
  key: string;
  /** The Cluster master that serves the marker's slot (`host:port`); absent on a standalone Redis. */
  node?: string;
}

interface EpochCommands {
  samsaraTokenEpoch(key: string, fresh: string): Promise<[string, number]>;
  cluster(subcommand: 'SLOTS'): Promise<[number, number, [string, number, ...unknown[]], ...unknown[]][]>;
}

type Trigger = StoreLostEvent['trigger'];

/**
 * The store's epoch marker: a random id under the store's prefix, never given a TTL, so it lives
 * exactly as long as the data beside it. On a Cluster there is one per master, each on a slot
 * that master serves, so a master that lost its data is noticed too. A marker that vanished, or
 * that another process has written anew, means everything written before is gone (a restart
 * without persistence, `FLUSHALL`, a failover to an empty replica): the store says so once, on
 * the store-lost channel, and writes a new marker so that the next loss is noticed as well.
 *
 * A marker seen for the first time proves nothing: a new Redis and one that has just lost its data
 * look alike. So a loss is noticed by a process that was running before it, never by one started
 * after it.
 */
export class RedisEpoch {
  /** The id last seen at each marker key. */
  readonly #known = new Map<string, string>();
  readonly #commands: EpochCommands;
  readonly #checks = new SingleFlight<boolean>();
  #lostAt: number | undefined;

  constructor(private readonly source: EpochSource) {
    defineScripts(source.client, { samsaraTokenEpoch: READ_OR_CREATE });
    this.#commands = source.client as unknown as EpochCommands;
  }

  /** When this store last noticed a loss (ms since the epoch); undefined if it never did. */
  get lostAt(): number | undefined {
    return this.#lostAt;
  }

  /**
   * Reads (or creates) every marker and compares it with what was seen before: true when a loss
   * was found by this check. Checks that overlap share one round of reads.
   */
  check(trigger: Trigger): Promise<boolean> {
    return this.#checks.run('epoch', () => this.#check(trigger));
  }

  async #check(trigger: Trigger): Promise<boolean> {
    const started = performance.now();
    let lost = false;
    for (const marker of await this.#markers()) {
      const fresh = randomBytes(16).toString('base64url');
      const [id] = await this.source.call('epoch check', () => this.#commands.samsaraTokenEpoch(marker.key, fresh));
      const seen = this.#known.get(marker.key);
      this.#known.set(marker.key, id);
      if (seen === undefined || seen === id) continue;
      lost = true;
      this.#lostAt = Date.now();
      publishStoreLost(
        trigger,
        started,
        `The token store's epoch marker ${marker.key} vanished${marker.node ? ` on ${marker.node}` : ''}: Redis lost everything written before (a restart without persistence, FLUSHALL, a failover to an empty replica). Every organization it held must sign in again.`,
        marker.node,
      );
    }
    return lost;
  }

  /** One marker on a standalone Redis; on a Cluster one per master, on a slot it serves now. */
  async #markers(): Promise<Marker[]> {
    const { client, prefix } = this.source;
    if (!client.isCluster) return [{ key: epochKeyOf(prefix, epochTagOf(0)) }];
    const slots = await this.source.call('cluster slots', () => this.#commands.cluster('SLOTS'));
    const masters = new Map<string, [number, number][]>();
    for (const [start, end, [host, port]] of slots) {
      const node = `${host}:${port}`;
      masters.set(node, [...(masters.get(node) ?? []), [start, end]]);
    }
    return [...masters].map(([node, ranges]) => ({ key: epochKeyOf(prefix, tagServedBy(ranges)), node }));
  }
}

/** The first `epoch:<n>` hash tag whose slot lies in `ranges`. */
function tagServedBy(ranges: [number, number][]): string {
  // 16 384 slots: a master with even one slot is found within a few hundred thousand tries.
  for (let n = 0; n < 1_000_000; n++) {
    const tag = epochTagOf(n);
    const slot = calculateSlot(tag);
    if (ranges.some(([start, end]) => slot >= start && slot <= end)) return tag;
  }
  throw new Error(`No epoch marker tag found for the slots ${JSON.stringify(ranges)}.`);
}
