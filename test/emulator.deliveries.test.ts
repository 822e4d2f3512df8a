import { expect } from 'chai';
import express from 'express';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { samsaraWebhooks, type SamsaraWebhookEvent } from 'passport-samsara';
import { startSamsaraEmulator, type EmulatedWebhook, type SamsaraEmulator } from 'passport-samsara/testing';
import { startRecordingServer, type Recorded } from './support/recording-server.js';

// The emulator's webhook deliveries to real local servers: signed as Samsara signs (checked here
// with the test's own HMAC), the webhooks 2.0 envelope, retried with the configured backoff on a
// non-2xx, a timeout or a network failure, to loopback URLs only, and bounded in memory. Then the
// whole path: the emulator delivering to the package's receiver.

/** The test's own check of a delivery's signature (not the package's verifier). */
function signatureValid(request: Recorded, secret: string): boolean {
  const timestamp = String(request.headers['x-samsara-timestamp']);
  const expected = createHmac('sha256', Buffer.from(secret, 'base64'))
    .update(`v1:${timestamp}:${request.body}`)
    .digest('hex');
  return timingSafeEqual(Buffer.from(`v1=${expected}`), Buffer.from(String(request.headers['x-samsara-signature'])));
}

describe('Samsara emulator: webhook deliveries', function () {
  this.timeout(20_000);
  let emulator: SamsaraEmulator;
  let receiver: Awaited<ReturnType<typeof startRecordingServer>>;
  let now: number;

  beforeEach(async () => {
    now = Date.now();
    emulator = await startSamsaraEmulator({ clock: () => now, webhookRetryDelays: [50, 100], webhookTimeout: 500 });
    receiver = await startRecordingServer();
    receiver.reply((res) => res.writeHead(204).end());
  });
  afterEach(async () => {
    await emulator.stop();
    await receiver.stop();
  });

  const webhook = (fields: Partial<EmulatedWebhook> = {}): EmulatedWebhook =>
    emulator.addWebhook('1001', {
      name: 'tests',
      url: `${receiver.url}/samsara/webhooks`,
      eventTypes: ['VehicleCreated'],
      ...fields,
    });

  it('POSTs the webhooks 2.0 envelope, signed with the webhook’s secret at the time of sending, with its custom headers', async () => {
    const hook = webhook({ customHeaders: [{ key: 'X-Tenant', value: 'acme' }] });
    const data = { vehicle: { id: '494123', name: 'Fleet Truck #1' } };
    const emitted = emulator.emitEvent('1001', 'VehicleCreated', data);
    expect(emitted.webhookIds).to.deep.equal([hook.id]);
    const [delivery] = await emitted.settled;
    expect(delivery).to.deep.include({
      outcome: 'delivered',
      eventId: emitted.eventId,
      webhookId: hook.id,
      orgId: '1001',
    });
    expect(delivery.attempts).to.have.length(1);
    expect(delivery.attempts[0]).to.deep.include({ at: now, status: 204 });
    const [request] = receiver.requests;
    expect(request).to.deep.include({ method: 'POST', path: '/samsara/webhooks' });
    expect(request.headers['content-type']).to.equal('application/json');
    expect(request.headers['x-tenant']).to.equal('acme');
    expect(request.headers['x-samsara-timestamp']).to.equal(String(Math.floor(now / 1000)));
    expect(request.headers['x-samsara-signature']).to.match(/^v1=[0-9a-f]{64}$/);
    expect(signatureValid(request, hook.secretKey)).to.equal(true);
    expect(JSON.parse(request.body)).to.deep.equal({
      eventId: emitted.eventId,
      eventTime: new Date(now).toISOString(),
      eventType: 'VehicleCreated',
      orgId: 1001,
      webhookId: hook.id,
      data,
    });
    expect(emulator.counters.webhooks).to.deep.equal({ attempts: 1, delivered: 1, failed: 0 });
  });

  it('delivers to the webhooks subscribed to the type, or to the one named, and refuses what Samsara would not send', async () => {
    const vehicles = webhook();
    const dvirs = webhook({ eventTypes: ['DvirSubmitted', 'VehicleCreated'] });
    const alerts = webhook({ eventTypes: [] });
    expect(emulator.emitEvent('1001', 'VehicleCreated').webhookIds).to.deep.equal([vehicles.id, dvirs.id]);
    expect(emulator.emitEvent('1001', 'DvirSubmitted').webhookIds).to.deep.equal([dvirs.id]);
    expect(emulator.emitEvent('1001', 'GeofenceEntry').webhookIds).to.deep.equal([]);
    const named = emulator.emitEvent('1001', 'AlertIncident', { configurationId: 'c-1' }, { webhookId: alerts.id });
    expect(named.webhookIds).to.deep.equal([alerts.id]);
    await emulator.webhooksSettled();
    expect(receiver.requests).to.have.length(4);
    expect(() => emulator.emitEvent('9999', 'VehicleCreated')).to.throw(RangeError, /no organization/);
    expect(() => emulator.emitEvent('1001', 'VehicleExploded' as 'VehicleCreated')).to.throw(RangeError, /event type/);
    expect(() => emulator.emitEvent('1001', 'VehicleCreated', [] as unknown as Record<string, unknown>)).to.throw(
      RangeError,
    );
    expect(() => emulator.emitEvent('1001', 'VehicleCreated', { n: 1n })).to.throw(TypeError);
    const elsewhere = emulator.addWebhook('1001', { name: 'x', url: `${receiver.url}/x` });
    expect(() => emulator.emitEvent('2002', 'VehicleCreated', {}, { webhookId: elsewhere.id })).to.throw(RangeError);
  });

  it('retries a non-2xx answer on the configured schedule, signing each attempt anew, with the same eventId', async () => {
    const hook = webhook();
    const statuses = [500, 429, 200];
    receiver.reply((res) => {
      now += 2_000;
      res.writeHead(statuses[receiver.requests.length - 1]).end('{"ok":true}');
    });
    const emitted = emulator.emitEvent('1001', 'VehicleCreated', { vehicle: { id: '1' } });
    const started = performance.now();
    const [delivery] = await emitted.settled;
    expect(performance.now() - started, 'waited 50 then 100 ms').to.be.at.least(140);
    expect(delivery.outcome).to.equal('delivered');
    expect(delivery.attempts.map((a) => a.status)).to.deep.equal([500, 429, 200]);
    expect(receiver.requests.map((r) => (JSON.parse(r.body) as { eventId: string }).eventId)).to.deep.equal(
      Array(3).fill(emitted.eventId),
    );
    expect(receiver.requests.every((r) => signatureValid(r, hook.secretKey))).to.equal(true);
    const second = Math.floor(now / 1000);
    expect(receiver.requests.map((r) => Number(r.headers['x-samsara-timestamp']))).to.deep.equal([
      second - 6,
      second - 4,
      second - 2,
    ]);
    expect(emulator.counters.webhooks).to.deep.equal({ attempts: 3, delivered: 1, failed: 0 });
  });

  it('gives up after the last retry, and treats a redirect as a failure', async () => {
    webhook();
    receiver.reply((res) => res.writeHead(302, { location: 'http://127.0.0.1:9/elsewhere' }).end());
    const [delivery] = await emulator.emitEvent('1001', 'VehicleCreated').settled;
    expect(delivery.outcome).to.equal('failed');
    expect(delivery.attempts.map((a) => a.status)).to.deep.equal([302, 302, 302]);
    expect(emulator.counters.webhooks).to.deep.equal({ attempts: 3, delivered: 0, failed: 1 });
    emulator.configure({ webhookRetryDelays: [] });
    const [once] = await emulator.emitEvent('1001', 'VehicleCreated').settled;
    expect(once.attempts, 'no retries configured').to.have.length(1);
  });

  it('counts a receiver that does not answer within webhookTimeout, or cannot be reached, as a failed attempt', async () => {
    webhook();
    receiver.reply(() => undefined); // never answers
    emulator.configure({ webhookTimeout: 150, webhookRetryDelays: [10] });
    const [hung] = await emulator.emitEvent('1001', 'VehicleCreated').settled;
    expect(hung.outcome).to.equal('failed');
    expect(hung.attempts.map((a) => a.error)).to.deep.equal(['timeout', 'timeout']);
    expect(hung.attempts[0].durationMs).to.be.within(140, 1_000);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    emulator.addWebhook('1001', { name: 'gone', url: `http://127.0.0.1:${port}/hooks`, eventTypes: ['DvirSubmitted'] });
    const [refused] = await emulator.emitEvent('1001', 'DvirSubmitted').settled;
    expect(refused.attempts.map((a) => a.error)).to.deep.equal(['network', 'network']);
  });

  it('delivers to loopback URLs only: an https URL elsewhere is skipped, never requested', async () => {
    const far = emulator.addWebhook('1001', {
      name: 'prod',
      url: 'https://app.example.com/hooks',
      eventTypes: ['VehicleCreated'],
    });
    const [delivery] = await emulator.emitEvent('1001', 'VehicleCreated').settled;
    expect(delivery).to.deep.include({ outcome: 'skipped', webhookId: far.id, url: 'https://app.example.com/hooks' });
    expect(delivery.attempts).to.deep.equal([]);
    expect(emulator.counters.webhooks.attempts).to.equal(0);
  });

  it('follows a PATCH between attempts, and stops at a DELETE', async () => {
    const hook = webhook();
    // Time enough for the PATCH or DELETE, sent as the receiver answers, to land before the next attempt.
    emulator.configure({ webhookRetryDelays: [300, 300] });
    const second = await startRecordingServer();
    try {
      second.reply((res) => res.writeHead(204).end());
      let patched = false;
      const grant = emulator.issueGrant('1001');
      const patch = (body: unknown) =>
        fetch(`${emulator.baseURL}/webhooks/${hook.id}`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${grant.accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      receiver.reply((res) => {
        res.writeHead(503).end();
        if (!patched) void patch({ url: `${second.url}/moved` }).then(() => (patched = true));
      });
      const [moved] = await emulator.emitEvent('1001', 'VehicleCreated').settled;
      expect(moved.outcome).to.equal('delivered');
      expect(moved.url).to.equal(`${second.url}/moved`);
      expect(second.requests.map((r) => r.path)).to.deep.equal(['/moved']);

      second.reply((res) => {
        res.writeHead(500).end();
        void fetch(`${emulator.baseURL}/webhooks/${hook.id}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${grant.accessToken}` },
        });
      });
      const [deleted] = await emulator.emitEvent('1001', 'VehicleCreated').settled;
      expect(deleted.outcome).to.equal('failed');
      expect(deleted.attempts, 'no attempt after the delete').to.have.length(1);
    } finally {
      await second.stop();
    }
  });

  it('ends the deliveries in flight when it stops, as failed', async () => {
    webhook();
    receiver.reply(() => undefined);
    emulator.configure({ webhookTimeout: 10_000 });
    const emitted = emulator.emitEvent('1001', 'VehicleCreated');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    await emulator.stop();
    const [delivery] = await emitted.settled;
    expect(performance.now() - started).to.be.below(2_000);
    expect(delivery.outcome).to.equal('failed');
    expect(delivery.attempts.map((a) => a.error)).to.deep.equal(['stopped']);
  });

  it('keeps the latest webhookHistory deliveries only', async () => {
    await emulator.stop();
    emulator = await startSamsaraEmulator({ webhookHistory: 3 });
    webhook();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(emulator.emitEvent('1001', 'VehicleCreated', { i }).eventId);
    await emulator.webhooksSettled();
    expect(emulator.webhookDeliveries().map((d) => d.eventId)).to.deep.equal(ids.slice(2));
    const copy = emulator.webhookDeliveries()[0];
    copy.attempts.length = 0;
    expect(emulator.webhookDeliveries()[0].attempts, 'a copy').to.have.length(1);
    await startSamsaraEmulator({ webhookHistory: -1 }).then(
      () => expect.fail('accepted'),
      (err: unknown) => expect(err).to.be.instanceOf(RangeError),
    );
    expect(() => emulator.configure({ webhookRetryDelays: [-1] })).to.throw(RangeError);
    expect(() => emulator.configure({ webhookTimeout: 0 })).to.throw(RangeError);
  });

  describe('to the package’s receiver', () => {
    let server: Server;
    let handled: SamsaraWebhookEvent[];
    let failNext: number;

    beforeEach(async () => {
      handled = [];
      failNext = 0;
      const app = express();
      app.post(
        '/samsara/webhooks',
        samsaraWebhooks({
          secrets: ({ orgId }) => emulator.webhooksOf(orgId).map((w) => w.secretKey),
          handlers: {
            VehicleCreated: (event) => {
              if (failNext-- > 0) throw new Error('not now');
              handled.push(event);
            },
          },
          onError: () => undefined,
        }),
      );
      server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
    });
    afterEach(() => {
      server.closeAllConnections();
      server.close();
    });

    const url = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/samsara/webhooks`;

    it('is verified and handled once, through a failure and Samsara’s retry, and a duplicate emission', async () => {
      emulator.addWebhook('1001', { name: 'app', url: url(), eventTypes: ['VehicleCreated'] });
      failNext = 1;
      const emitted = emulator.emitEvent('1001', 'VehicleCreated', { vehicle: { id: '7' } });
      const [delivery] = await emitted.settled;
      expect(delivery.attempts.map((a) => a.status)).to.deep.equal([500, 204]);
      const [again] = await emulator.emitEvent('1001', 'VehicleCreated', {}, { eventId: emitted.eventId }).settled;
      expect(
        again.attempts.map((a) => a.status),
        'a duplicate',
      ).to.deep.equal([204]);
      expect(handled.map((e) => [e.eventId, e.data])).to.deep.equal([[emitted.eventId, { vehicle: { id: '7' } }]]);
    });

    it('is refused as stale when the emulator’s clock is off by more than the window, and retried until it gives up', async () => {
      emulator.addWebhook('1001', { name: 'app', url: url(), eventTypes: ['VehicleCreated'] });
      now = Date.now() - 10 * 60_000;
      const [delivery] = await emulator.emitEvent('1001', 'VehicleCreated').settled;
      expect(delivery.attempts.map((a) => a.status)).to.deep.equal([401, 401, 401]);
      expect(delivery.outcome).to.equal('failed');
      expect(handled).to.deep.equal([]);
    });
  });
});
