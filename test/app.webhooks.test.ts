import { expect } from 'chai';
import type { Server } from 'node:http';
import request from 'supertest';
import { MemoryTokenStore, TokenManager, organizationWebhooks, type SamsaraWebhookEvent } from 'passport-samsara';
import { createSamsaraApp } from 'passport-samsara/app';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { signIn, type Agent } from './support/app-client.js';
import { closeServer, listenLocal } from './support/browser.js';

describe('the Samsara app receives its organizations’ events and shows the latest (supertest)', () => {
  let emulator: SamsaraEmulator;
  let tokens: TokenManager;
  let server: Server;
  let url: string;
  let agent: Agent;
  let handled: SamsaraWebhookEvent[];

  before(async () => {
    emulator = await startSamsaraEmulator({ autoApprove: true });
    handled = [];
    tokens = new TokenManager({
      store: new MemoryTokenStore(),
      client: emulator,
      webhooks: organizationWebhooks({ url: () => `${url}/webhooks` }),
    });
    const app = createSamsaraApp({
      tokens,
      webhookHandlers: { VehicleCreated: (event) => void handled.push(event) },
    });
    ({ server, url } = await listenLocal(app));
    agent = request.agent(url);
  });
  after(async () => {
    await tokens.idle();
    await closeServer(server);
    await emulator.stop();
  });

  it('Connect registers the app’s /webhooks; its events reach the handlers and the home page, newest first', async () => {
    await signIn(agent, '', emulator);
    const [webhook, ...more] = emulator.webhooksOf('1001');
    expect(more).to.deep.equal([]);
    expect(webhook?.url).to.equal(`${url}/webhooks`);
    const before = await agent.get('/').expect(200);
    expect(before.text).to.include('id="no-events"');

    emulator.emitEvent('1001', 'VehicleCreated', { vehicle: { id: 'v1', name: '<b>Truck</b>' } });
    emulator.emitEvent('1001', 'DvirSubmitted', { dvir: { id: 'd1' } });
    await emulator.webhooksSettled();
    expect(emulator.webhookDeliveries().map((delivery) => delivery.outcome)).to.deep.equal(['delivered', 'delivered']);
    expect(
      handled.map((event) => event.eventType),
      'the host’s handler',
    ).to.deep.equal(['VehicleCreated']);

    const page = await agent.get('/').expect(200);
    const events = [...page.text.matchAll(/<li><code>(\w+)<\/code>/g)].map((match) => match[1]);
    expect(events).to.deep.equal(['DvirSubmitted', 'VehicleCreated']);
    expect(page.text, 'the event data stays off the page').to.not.include('Truck');
  });

  it('refuses a forged delivery at /webhooks, and shows nothing of it', async () => {
    const forged = await request(url)
      .post('/webhooks')
      .set('content-type', 'application/json')
      .set('x-samsara-timestamp', String(Math.floor(Date.now() / 1000)))
      .set('x-samsara-signature', `v1=${'0'.repeat(64)}`)
      .send(
        JSON.stringify({
          eventId: 'forged',
          eventTime: new Date().toISOString(),
          eventType: 'VehicleCreated',
          orgId: 1001,
          webhookId: 'x',
          data: {},
        }),
      )
      .expect(401);
    expect(forged.body.error.code).to.equal('SAMSARA_WEBHOOK_MISMATCH');
    const page = await agent.get('/').expect(200);
    expect(page.text).to.not.include('forged');
  });
});
