import { expect } from 'chai';
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RedisTokenStore, generateSealingKey, samsaraWebhooks } from 'passport-samsara';
import { StoreUnavailableError } from 'passport-samsara/errors';
import { signSamsaraWebhook } from 'passport-samsara/testing';
import { connect, startRedis, type RedisServer } from './support/redis.js';

// Deduplication across a fleet: four receivers, each with its own Redis connection and store, as
// four processes would have them, on a Redis this test owns. The same delivery reaches all four
// at once, again and again: each event's handler runs exactly once.

const SECRET = Buffer.from('fleet secret').toString('base64');
const RECEIVERS = 4;

describe('samsaraWebhooks across a fleet (4 receivers, one Redis)', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let receivers: Array<{ url: string; server: Server; store: RedisTokenStore; disconnect(): void }>;
  let runs: Map<string, number>;
  let failFirst: Set<string>;
  let errors: unknown[];

  before(async () => {
    redis = await startRedis();
    const keys = generateSealingKey('kfleet');
    receivers = await Promise.all(
      Array.from({ length: RECEIVERS }, async () => {
        const client = connect('ioredis 5', redis);
        const store = new RedisTokenStore({ client, keys, timeout: 500 });
        const app = express();
        app.post(
          '/hooks',
          samsaraWebhooks({
            store,
            secrets: SECRET,
            processingTtl: 2_000,
            onError: (err) => void errors.push(err),
            handlers: {
              VehicleCreated: async (event) => {
                // Long enough that the other deliveries of the event arrive while it runs.
                await new Promise((resolve) => setTimeout(resolve, 30));
                if (failFirst.delete(event.eventId)) throw new Error('the first attempt fails');
                runs.set(event.eventId, (runs.get(event.eventId) ?? 0) + 1);
              },
            },
          }),
        );
        const server = app.listen(0, '127.0.0.1');
        await new Promise((resolve) => server.once('listening', resolve));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
        return { url, server, store, disconnect: () => client.disconnect() };
      }),
    );
  });
  after(async () => {
    for (const receiver of receivers ?? []) {
      receiver.server.closeAllConnections();
      receiver.server.close();
      await receiver.store.close();
      receiver.disconnect();
    }
    await redis?.stop();
  });
  beforeEach(() => {
    runs = new Map();
    failFirst = new Set();
    errors = [];
  });

  const delivery = (eventId: string) =>
    signSamsaraWebhook({
      payload: {
        eventId,
        eventTime: new Date().toISOString(),
        eventType: 'VehicleCreated',
        orgId: 1001,
        webhookId: 'w-1',
        data: {},
      },
      secret: SECRET,
    });

  /** The same delivery to every receiver at once; their statuses. */
  const toAll = async (signed: ReturnType<typeof delivery>): Promise<number[]> =>
    Promise.all(
      receivers.map(
        async ({ url }) => (await fetch(url, { method: 'POST', headers: signed.headers, body: signed.body })).status,
      ),
    );

  it('runs the handler exactly once when all four receive the same delivery at the same moment, 25 events over', async () => {
    for (let round = 0; round < 25; round++) {
      const eventId = `fleet-event-${round}`;
      const statuses = await toAll(delivery(eventId));
      expect(runs.get(eventId), eventId).to.equal(1);
      expect(statuses.filter((s) => s === 204).length, `${eventId}: ${statuses.join(',')}`).to.be.at.least(1);
      expect(
        statuses.every((s) => s === 204 || s === 409),
        statuses.join(','),
      ).to.equal(true);
      // Samsara's retries of the same event, signed anew, anywhere in the fleet: duplicates.
      expect(await toAll(delivery(eventId))).to.deep.equal(Array(RECEIVERS).fill(204));
      expect(runs.get(eventId)).to.equal(1);
    }
    expect(errors).to.deep.equal([]);
  });

  it('runs an event whose handler failed again on the retry, in whichever process receives it', async () => {
    const eventId = 'fleet-event-failing';
    failFirst.add(eventId);
    const first = await toAll(delivery(eventId));
    expect(first).to.include(500);
    expect(runs.get(eventId), 'failed, and its claim released').to.equal(undefined);
    expect(errors).to.have.length(1);
    const retried = await fetch(receivers[3].url, { method: 'POST', ...delivery(eventId) });
    expect(retried.status).to.equal(204);
    expect(runs.get(eventId)).to.equal(1);
    expect(await toAll(delivery(eventId))).to.deep.equal(Array(RECEIVERS).fill(204));
  });

  it('answers 503 with Retry-After while Redis is down, running nothing, and deduplicates again once it is back', async () => {
    await redis.kill();
    const signed = delivery('fleet-event-outage');
    const res = await fetch(receivers[0].url, { method: 'POST', headers: signed.headers, body: signed.body });
    expect(res.status).to.equal(503);
    expect(res.headers.get('retry-after')).to.match(/^\d+$/);
    expect(((await res.json()) as { error: { code: string } }).error.code).to.equal('SAMSARA_STORE_UNAVAILABLE');
    expect(errors[0]).to.be.instanceOf(StoreUnavailableError);
    expect(runs.size).to.equal(0);
    await redis.restart();
    // The claim sent during the outage may still land once ioredis reconnects (its offline queue
    // keeps it): the event then counts as in progress (409) until processingTtl, then runs.
    const deadline = Date.now() + 10_000;
    let statuses: number[] = [];
    while (!statuses.includes(204) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      statuses = await toAll(delivery('fleet-event-outage'));
      expect(
        statuses.every((s) => [204, 409, 503].includes(s)),
        statuses.join(','),
      ).to.equal(true);
    }
    expect(runs.get('fleet-event-outage')).to.equal(1);
    expect(await toAll(delivery('fleet-event-outage'))).to.deep.equal(Array(RECEIVERS).fill(204));
  });
});
