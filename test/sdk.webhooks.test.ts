import { SamsaraClient, SamsaraError as SdkError } from '@samsarahq/samsara';
import { expect } from 'chai';
import { MemoryTokenStore, OAuthClient, TokenManager } from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf, seedGrant } from './support/grants.js';

// The official SDK's webhooks client (@samsarahq/samsara 11.x) against the emulator, through
// tokens.forOrg: what the webhook lifecycle will call, answered in the shapes the SDK reads.

describe('the official SDK’s webhooks client against the emulator', function () {
  this.timeout(30_000);
  let emulator: SamsaraEmulator;
  let tokens: TokenManager;
  let client: SamsaraClient;

  beforeEach(async () => {
    emulator = await startSamsaraEmulator();
    const store = new MemoryTokenStore();
    tokens = new TokenManager({ store, client: new OAuthClient({ ...clientOf(emulator), timeout: 2_000 }) });
    await seedGrant(emulator, store, '1001', 3600_000);
    client = new SamsaraClient(tokens.forOrg('1001'));
  });
  afterEach(async () => {
    tokens.close();
    await emulator.stop();
  });

  it('creates, gets, lists, patches and deletes a webhook', async () => {
    const created = await client.webhooks.postWebhooks({
      name: 'passport-samsara',
      url: 'https://app.example.com/samsara/webhooks',
      eventTypes: ['VehicleCreated', 'RouteStopArrival'],
      version: '2024-02-27',
      customHeaders: [{ key: 'X-Tenant', value: 'acme' }],
    });
    expect(created).to.deep.include({
      name: 'passport-samsara',
      url: 'https://app.example.com/samsara/webhooks',
      eventTypes: ['VehicleCreated', 'RouteStopArrival'],
      version: '2024-02-27',
      customHeaders: [{ key: 'X-Tenant', value: 'acme' }],
    });
    expect(created.id).to.be.a('string');
    expect(created.secretKey).to.equal(emulator.webhooksOf('1001')[0].secretKey);

    expect(await client.webhooks.getWebhook({ id: created.id })).to.deep.equal(created);
    const listed = await client.webhooks.listWebhooks();
    expect(listed.data).to.deep.equal([created]);
    expect(listed.pagination).to.deep.equal({ endCursor: '', hasNextPage: false });
    expect((await client.webhooks.listWebhooks({ ids: created.id, limit: 1 })).data).to.deep.equal([created]);

    const patched = await client.webhooks.patchWebhook({
      id: created.id,
      url: 'https://app.example.com/v2/samsara/webhooks',
      customHeaders: [],
    });
    expect(patched).to.deep.equal({
      ...created,
      url: 'https://app.example.com/v2/samsara/webhooks',
      customHeaders: [],
    });

    await client.webhooks.deleteWebhook({ id: created.id });
    expect((await client.webhooks.listWebhooks()).data).to.deep.equal([]);
    const missing = await client.webhooks.getWebhook({ id: created.id }).catch((err: unknown) => err);
    expect(missing).to.be.instanceOf(SdkError);
    expect((missing as SdkError).statusCode).to.equal(404);
    expect(emulator.counters.tokenRequests, 'the seeded token served every call').to.equal(0);
  });

  it('surfaces a refused body as the SDK’s error with the 400 and Samsara’s message', async () => {
    const refused = await client.webhooks
      .postWebhooks({ name: 'x', url: 'http://app.example.com/hooks' })
      .catch((err: unknown) => err);
    expect(refused).to.be.instanceOf(SdkError);
    expect((refused as SdkError).statusCode).to.equal(400);
    expect(JSON.stringify((refused as SdkError).body)).to.match(/https URL/);
  });
});
