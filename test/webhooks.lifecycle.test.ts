import { expect } from 'chai';
import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import Redis from 'ioredis';
import { randomBytes } from 'node:crypto';
import {
  MemoryTokenStore,
  PostgresTokenStore,
  RedisTokenStore,
  generateSealingKey,
  TokenManager,
  organizationWebhooks,
  samsaraWebhooks,
  type ConnectEvent,
  type DisconnectEvent,
  type SamsaraWebhookEvent,
} from 'passport-samsara';
import { ConfigurationError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf } from './support/grants.js';
import { dropSchema, pool, testSchema } from './support/postgres.js';
import './support/warnings.js';

describe('organizationWebhooks: one webhook per connected organization, kept by the lifecycle', () => {
  let emulator: SamsaraEmulator;
  let server: Server;
  let url: string;
  let store: MemoryTokenStore;
  let tokens: TokenManager;
  let connects: ConnectEvent[];
  let disconnects: DisconnectEvent[];
  let received: SamsaraWebhookEvent[];

  beforeEach(async () => {
    emulator = await startSamsaraEmulator({
      organizations: [
        { id: '1001', name: 'Charlie', vehicleCount: 0 },
        { id: '2002', name: 'Acme', vehicleCount: 0 },
      ],
      clients: [
        { clientId: 'full', clientSecret: 'full-secret' },
        { clientId: 'no-webhooks', clientSecret: 'no-webhooks-secret', scopes: ['read_org', 'read_vehicles'] },
      ],
    });
    received = [];
    const app = express();
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/samsara/webhooks`;
    connects = [];
    disconnects = [];
    store = new MemoryTokenStore();
    tokens = managerFor('full');
    app.post(
      '/samsara/webhooks',
      samsaraWebhooks({ tokens, handlers: { default: (event) => void received.push(event) } }),
    );
  });
  afterEach(async () => {
    await tokens.idle();
    await emulator.stop();
    await new Promise((resolve) => server.close(resolve));
  });

  function managerFor(clientId: string): TokenManager {
    return new TokenManager({
      store,
      client: { ...clientOf(emulator), clientID: clientId, clientSecret: `${clientId}-secret` },
      webhooks: organizationWebhooks({ url, eventTypes: ['VehicleCreated', 'DvirSubmitted'] }),
      onConnect: (event) => void connects.push(event),
      onDisconnect: (event) => void disconnects.push(event),
    });
  }

  async function signIn(orgId = '1001', clientId = 'full'): Promise<void> {
    const issued = emulator.issueGrant(orgId, clientId);
    await tokens.connect(orgId, { ...issued, expiresAt: Date.now() + 3600_000 });
  }

  it('sign-in creates the webhook, keeps its secret beside the grant, and its deliveries verify', async () => {
    await signIn();
    const [webhook, ...more] = emulator.webhooksOf('1001');
    expect(more, 'one webhook').to.deep.equal([]);
    expect(webhook).to.deep.include({ url, eventTypes: ['VehicleCreated', 'DvirSubmitted'], version: '2024-02-27' });
    expect(connects).to.deep.equal([
      { orgId: '1001', reason: 'connected', region: 'us', webhook: { status: 'created', webhookId: webhook.id } },
    ]);
    expect(await store.webhook('1001')).to.deep.equal({ id: webhook.id, url, secretKey: webhook.secretKey });
    emulator.emitEvent('1001', 'VehicleCreated', { id: 'v1' });
    await emulator.webhooksSettled();
    expect(received.map((event) => [event.eventType, event.data])).to.deep.equal([['VehicleCreated', { id: 'v1' }]]);
  });

  it('a second sign-in does not duplicate it; another organization gets its own', async () => {
    await signIn();
    await signIn();
    await signIn('2002');
    expect(emulator.webhooksOf('1001')).to.have.length(1);
    expect(emulator.webhooksOf('2002')).to.have.length(1);
    const [webhook] = emulator.webhooksOf('1001');
    expect(connects.map((event) => [event.orgId, event.reason, event.webhook])).to.deep.equal([
      ['1001', 'connected', { status: 'created', webhookId: webhook.id }],
      ['1001', 'reconnected', { status: 'found', webhookId: webhook.id }],
      ['2002', 'connected', { status: 'created', webhookId: emulator.webhooksOf('2002')[0].id }],
    ]);
  });

  it('a sign-in adopts the webhook already there (by name and URL) and learns its secret', async () => {
    const existing = emulator.addWebhook('1001', {
      name: `passport-samsara ${new URL(url).host}`,
      url,
      eventTypes: ['VehicleCreated', 'DvirSubmitted'],
      version: '2024-02-27',
    });
    await signIn();
    expect(emulator.webhooksOf('1001').map((webhook) => webhook.id)).to.deep.equal([existing.id]);
    expect(connects[0]?.webhook).to.deep.equal({ status: 'repaired', webhookId: existing.id });
    expect((await store.webhook('1001'))?.secretKey).to.equal(existing.secretKey);
  });

  it('Disconnect deletes it before revoking, and onDisconnect hears it', async () => {
    await signIn();
    const [webhook] = emulator.webhooksOf('1001');
    await tokens.revoke('1001');
    expect(emulator.webhooksOf('1001')).to.deep.equal([]);
    expect(await store.webhook('1001')).to.equal(null);
    expect(disconnects).to.deep.equal([
      { orgId: '1001', reason: 'revoked', grants: 1, webhook: { status: 'deleted', webhookId: webhook.id } },
    ]);
  });

  it('a Disconnect whose webhook delete fails revokes nothing, and the next one finishes', async () => {
    await signIn();
    emulator.injectFault('api', { type: 'status', status: 503 }, 1);
    await tokens.revoke('1001').then(
      () => expect.fail('the delete failed'),
      (err: Error & { code: string }) => expect(err.code).to.equal('SAMSARA_WEBHOOK_UPKEEP'),
    );
    expect(await store.get('1001'), 'the grant kept').to.not.equal(null);
    expect(emulator.webhooksOf('1001')).to.have.length(1);
    await tokens.revoke('1001');
    expect(emulator.webhooksOf('1001')).to.deep.equal([]);
    expect(await store.get('1001')).to.equal(null);
  });

  it('a grant without the Webhooks scopes: SAMSARA_WEBHOOK_SCOPE, and the sign-in keeps the grant', async () => {
    tokens = managerFor('no-webhooks');
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    await signIn('1001', 'no-webhooks');
    expect(await store.get('1001'), 'the grant kept').to.not.equal(null);
    expect(emulator.webhooksOf('1001')).to.deep.equal([]);
    const [event] = connects;
    expect(event?.webhook).to.deep.include({ status: 'failed', code: 'SAMSARA_WEBHOOK_SCOPE' });
    expect(event?.webhook && 'message' in event.webhook && event.webhook.message).to.match(/Write Webhooks scope/);
    expect(((await warned) as Error & { code: string }).code).to.equal('SAMSARA_WEBHOOK_SCOPE');
    await tokens.revoke('1001');
    expect(await store.get('1001'), 'Disconnect still revokes').to.equal(null);
    expect(disconnects[0]?.webhook).to.deep.include({ status: 'failed', code: 'SAMSARA_WEBHOOK_SCOPE' });
  });

  it('on Redis: the record is sealed (no secret in Redis), another process opens it, one moved to another key does not open', async () => {
    const redis = new Redis({ host: '127.0.0.1', port: 6379 });
    const prefix = `lifecycle-${randomBytes(6).toString('hex')}:`;
    const keys = generateSealingKey('klifecycle');
    const [web, worker] = [
      new RedisTokenStore({ client: redis, prefix, keys }),
      new RedisTokenStore({ client: redis, prefix, keys }),
    ];
    try {
      const webTokens = new TokenManager({
        store: web,
        client: clientOf(emulator),
        webhooks: organizationWebhooks({ url }),
      });
      await webTokens.connect('1001', { ...emulator.issueGrant('1001'), expiresAt: Date.now() + 3600_000 });
      const [webhook] = emulator.webhooksOf('1001');
      const raw = await redis.hgetall(`${prefix}{org:1001}:webhook`);
      expect(raw.id).to.equal(webhook.id);
      expect(JSON.stringify(raw)).to.not.include(webhook.secretKey);
      expect(await worker.webhook('1001'), 'another process opens it').to.deep.equal({
        id: webhook.id,
        url,
        secretKey: webhook.secretKey,
      });
      const tampered = await redis.hget(`${prefix}{org:1001}:webhook`, 'd');
      await redis.hset(`${prefix}{org:9}:webhook`, 'id', webhook.id, 'd', tampered!);
      await worker.webhook('9').then(
        () => expect.fail('a record moved to another key must not open'),
        (err: Error & { code: string }) => expect(err.code).to.equal('SAMSARA_SEAL'),
      );
    } finally {
      await Promise.all([web.close(), worker.close()]);
      const stale = await redis.keys(`${prefix}*`);
      if (stale.length > 0) await redis.del(...stale);
      redis.disconnect();
    }
  });

  it('on Postgres: the record is sealed (no secret in its row), another process opens it, one moved to another key does not open', async () => {
    const schema = testSchema('lifecycle');
    const db = pool();
    const keys = generateSealingKey('klifecycle');
    const [web, worker] = [
      new PostgresTokenStore({ pool: db, keys, schema }),
      new PostgresTokenStore({ pool: db, keys, schema }),
    ];
    try {
      const webTokens = new TokenManager({
        store: web,
        client: clientOf(emulator),
        webhooks: organizationWebhooks({ url }),
      });
      await webTokens.connect('1001', { ...emulator.issueGrant('1001'), expiresAt: Date.now() + 3600_000 });
      const [webhook] = emulator.webhooksOf('1001');
      const { rows } = await db.query(`SELECT id, sealed, row_to_json(w)::text AS line FROM "${schema}".webhooks w`);
      const [row] = rows as { id: string; sealed: string; line: string }[];
      expect(row?.id).to.equal(webhook.id);
      expect(row?.line).to.not.include(webhook.secretKey);
      expect(await worker.webhook('1001'), 'another process opens it').to.deep.equal({
        id: webhook.id,
        url,
        secretKey: webhook.secretKey,
      });
      await db.query(`INSERT INTO "${schema}".webhooks (key, id, sealed) VALUES ('9', $1, $2)`, [
        webhook.id,
        row?.sealed,
      ]);
      await worker.webhook('9').then(
        () => expect.fail('a record moved to another key must not open'),
        (err: Error & { code: string }) => expect(err.code).to.equal('SAMSARA_SEAL'),
      );
      await webTokens.revoke('1001');
      expect(emulator.webhooksOf('1001'), 'Disconnect deletes it at Samsara').to.deep.equal([]);
      expect(await worker.webhook('1001'), 'and in the store').to.equal(null);
    } finally {
      await Promise.all([web.close(), worker.close()]);
      await db.end();
      await dropSchema(schema);
    }
  });

  it('a receiver without secrets needs a store that keeps them', () => {
    expect(() => samsaraWebhooks({ handlers: {} })).to.throw(ConfigurationError, /needs the option secrets/);
  });
});
