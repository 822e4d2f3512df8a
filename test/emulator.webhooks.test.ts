import { expect } from 'chai';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';

// The emulator's /webhooks over real HTTP: the fields and their checks, PATCH replacing arrays
// whole, each organization seeing its own, Samsara's limits (5 reads a second, 100 writes a
// minute per organization) with a fractional Retry-After, and the Read/Write Webhooks scopes.
// The clock stands still unless a test moves it.

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

describe('Samsara emulator: /webhooks', () => {
  let emulator: SamsaraEmulator;
  let now: number;
  let start: number;
  let token: string;

  beforeEach(async () => {
    now = start = Date.parse('2025-03-01T12:00:00Z');
    emulator = await startSamsaraEmulator({
      clock: () => now,
      organizations: [
        { id: '1001', name: "Charlie's Dining Services", vehicleCount: 0 },
        { id: '2002', name: 'Acme Freight', vehicleCount: 0 },
      ],
      clients: [
        { clientId: 'samsara-emulator-client', clientSecret: 'samsara-emulator-secret' },
        { clientId: 'other-app', clientSecret: 'other-secret' },
        { clientId: 'reader', clientSecret: 'r', scopes: ['read_org', 'read_webhooks'] },
        { clientId: 'no-webhooks', clientSecret: 'n', scopes: ['read_org', 'read_vehicles'] },
      ],
    });
    token = emulator.issueGrant('1001').accessToken;
  });
  afterEach(() => emulator.stop());

  async function call(method: string, path: string, body?: unknown, bearer: string | null = token): Promise<Answer> {
    const res = await fetch(emulator.baseURL + path, {
      method,
      headers: {
        ...(bearer !== null && { authorization: `Bearer ${bearer}` }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
  }

  const create = (fields: Record<string, unknown>, bearer = token) => call('POST', '/webhooks', fields, bearer);
  const hook = { name: 'Fleet sync', url: 'https://app.example.com/samsara/webhooks' };

  it('creates a webhook with an id, a Base64 secretKey and the fields given, and shows it on GET and in the list', async () => {
    const fields = {
      ...hook,
      eventTypes: ['VehicleCreated', 'DvirSubmitted'],
      version: '2024-02-27',
      customHeaders: [{ key: 'X-App-Tenant', value: 'acme' }],
    };
    const created = await create(fields);
    expect(created.status).to.equal(200);
    expect(created.body).to.have.keys('id', 'name', 'url', 'version', 'eventTypes', 'customHeaders', 'secretKey');
    expect(created.body).to.deep.include(fields);
    expect(created.body.id).to.match(/^\d{16}$/);
    expect(created.body.secretKey).to.match(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(created.body.secretKey, 'base64')).to.have.length(24);
    expect((await call('GET', `/webhooks/${created.body.id}`)).body).to.deep.equal(created.body);
    const listed = await call('GET', '/webhooks');
    expect(listed.body).to.deep.equal({ data: [created.body], pagination: { endCursor: '', hasNextPage: false } });
    expect(emulator.webhooksOf('1001')).to.deep.equal([{ orgId: '1001', ...created.body }]);
    const plain = await create(hook);
    expect(plain.body, 'defaults').to.deep.include({ version: '2018-01-01', eventTypes: [], customHeaders: [] });
    expect(plain.body.id).to.not.equal(created.body.id);
    expect(plain.body.secretKey).to.not.equal(created.body.secretKey);
    expect(emulator.counters.apiCalls).to.equal(4);
  });

  it("shows every app of an organization its webhooks, and another organization's to none", async () => {
    const created = (await create(hook)).body;
    const otherApp = emulator.issueGrant('1001', 'other-app').accessToken;
    expect((await call('GET', '/webhooks', undefined, otherApp)).body.data).to.deep.equal([created]);
    const otherOrg = emulator.issueGrant('2002').accessToken;
    expect((await call('GET', '/webhooks', undefined, otherOrg)).body.data).to.deep.equal([]);
    for (const [method, body] of [
      ['GET', undefined],
      ['PATCH', { name: 'taken over' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await call(method, `/webhooks/${created.id}`, body, otherOrg);
      expect(res.status, method).to.equal(404);
      expect(res.body).to.have.keys('message', 'requestId');
    }
    expect((await call('GET', `/webhooks/${created.id}`)).body).to.deep.equal(created);
  });

  it('refuses bodies that are not webhooks with a 400 saying why', async () => {
    const url = hook.url;
    const refused: Array<[unknown, RegExp]> = [
      [{ url }, /name and url are required/],
      [{ name: 'x' }, /name and url are required/],
      [{ name: '  ', url }, /name must be/],
      [{ name: 'x'.repeat(256), url }, /name must be/],
      [{ name: 'x', url: 'http://app.example.com/hook' }, /https URL/],
      [{ name: 'x', url: 'ftp://127.0.0.1/hook' }, /https URL/],
      [{ name: 'x', url: 'not a url' }, /https URL/],
      [{ ...hook, version: '2025-01-01' }, /version must be one of 2018-01-01, 2021-06-09, 2022-09-13, 2024-02-27/],
      [{ ...hook, eventTypes: ['VehicleCreated', 'VehicleExploded'] }, /VehicleExploded" is not a Samsara event type/],
      [{ ...hook, eventTypes: ['VehicleCreated', 'VehicleCreated'] }, /twice/],
      [{ ...hook, eventTypes: 'VehicleCreated' }, /array/],
      [{ ...hook, customHeaders: [{ key: 'X-Samsara-Signature', value: 'forged' }] }, /set by the delivery itself/],
      [{ ...hook, customHeaders: [{ key: 'Content-Type', value: 'text/plain' }] }, /set by the delivery itself/],
      [
        {
          ...hook,
          customHeaders: [
            { key: 'X-A', value: 'a' },
            { key: 'x-a', value: 'b' },
          ],
        },
        /twice/,
      ],
      [{ ...hook, customHeaders: [{ key: 'X-A', value: 'line\r\nX-Injected: 1' }] }, /printable/],
      [{ ...hook, customHeaders: [{ key: 'X-A', value: 'v'.repeat(101) }] }, /at most 100 characters/],
      [{ ...hook, customHeaders: [{ key: 'X A', value: 'v' }] }, /letters, digits and hyphens/],
      [{ ...hook, customHeaders: [{ key: 'X-A', value: 'v', extra: 1 }] }, /\{ key, value \}/],
      [{ ...hook, customHeaders: Array.from({ length: 11 }, (_, i) => ({ key: `X-${i}`, value: 'v' })) }, /at most 10/],
      [{ ...hook, eventType: ['VehicleCreated'] }, /Unknown field "eventType"/],
      [{ ...hook, secretKey: 'mine' }, /Unknown field "secretKey"/],
      [[hook], /JSON object/],
      ['{"name": "x",', /must be JSON/],
    ];
    for (const [body, message] of refused) {
      const res = await create(body as Record<string, unknown>);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.message, JSON.stringify(body)).to.match(message);
    }
    expect(emulator.webhooksOf()).to.deep.equal([]);
    for (const url of ['http://127.0.0.1:3000/hooks', 'http://localhost:3000/hooks', 'http://[::1]:3000/hooks']) {
      expect((await create({ name: 'local', url })).status, url).to.equal(200);
    }
    expect(() => emulator.addWebhook('1001', { name: 'x', url: 'http://app.example.com' })).to.throw(
      RangeError,
      /https URL/,
    );
    expect(() => emulator.addWebhook('9999', hook)).to.throw(RangeError, /no organization 9999/);
  });

  it('PATCH replaces what it names, arrays whole, and keeps the rest and the secret', async () => {
    const created = (
      await create({
        ...hook,
        eventTypes: ['VehicleCreated', 'VehicleUpdated'],
        customHeaders: [
          { key: 'X-One', value: '1' },
          { key: 'X-Two', value: '2' },
        ],
      })
    ).body;
    const path = `/webhooks/${created.id}`;
    const patched = await call('PATCH', path, {
      eventTypes: ['DvirSubmitted'],
      customHeaders: [{ key: 'X-Three', value: '3' }],
    });
    expect(patched.status).to.equal(200);
    expect(patched.body).to.deep.equal({
      ...created,
      eventTypes: ['DvirSubmitted'],
      customHeaders: [{ key: 'X-Three', value: '3' }],
    });
    const renamed = await call('PATCH', path, { name: 'Renamed', url: 'https://app.example.com/v2/hooks' });
    expect(renamed.body).to.deep.equal({ ...patched.body, name: 'Renamed', url: 'https://app.example.com/v2/hooks' });
    expect((await call('PATCH', path, {})).body, 'an empty patch changes nothing').to.deep.equal(renamed.body);
    const cleared = await call('PATCH', path, { eventTypes: null, customHeaders: [] });
    expect(cleared.body).to.deep.include({ eventTypes: [], customHeaders: [] });
    expect(cleared.body.secretKey).to.equal(created.secretKey);
    for (const [body, message] of [
      [{ name: null }, /name must be/],
      [{ url: null }, /https URL/],
      [{ version: '1999-01-01' }, /version must be/],
      [{ id: '1' }, /Unknown field "id"/],
    ] as const) {
      const res = await call('PATCH', path, body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.message, JSON.stringify(body)).to.match(message);
    }
    expect((await call('GET', path)).body, 'a refused patch changes nothing').to.deep.equal(cleared.body);
    expect((await call('PATCH', '/webhooks/1', { name: 'x' })).status).to.equal(404);
  });

  it('DELETE answers 204 and the webhook is gone', async () => {
    const created = (await create(hook)).body;
    const deleted = await call('DELETE', `/webhooks/${created.id}`);
    expect(deleted.status).to.equal(204);
    expect(deleted.body).to.equal(undefined);
    expect((await call('GET', `/webhooks/${created.id}`)).status).to.equal(404);
    expect((await call('DELETE', `/webhooks/${created.id}`)).status).to.equal(404);
    expect((await call('GET', '/webhooks')).body.data).to.deep.equal([]);
  });

  it('pages the list with limit and after (valid across deletions), and filters by ids', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create({ ...hook, name: `hook ${i}` })).body.id);
    const first = await call('GET', '/webhooks?limit=2');
    expect(first.body.data.map((w: { id: string }) => w.id)).to.deep.equal(ids.slice(0, 2));
    expect(first.body.pagination.hasNextPage).to.equal(true);
    await call('DELETE', `/webhooks/${ids[1]}`);
    now += 1_000;
    const second = await call('GET', `/webhooks?limit=2&after=${first.body.pagination.endCursor}`);
    expect(second.body.data.map((w: { id: string }) => w.id)).to.deep.equal(ids.slice(2, 4));
    const last = await call('GET', `/webhooks?limit=2&after=${second.body.pagination.endCursor}`);
    expect(last.body).to.deep.include({ pagination: { endCursor: '', hasNextPage: false } });
    expect(last.body.data.map((w: { id: string }) => w.id)).to.deep.equal([ids[4]]);
    now += 1_000;
    const filtered = await call('GET', `/webhooks?ids=${ids[0]},${ids[3]},123`);
    expect(filtered.body.data.map((w: { id: string }) => w.id)).to.deep.equal([ids[0], ids[3]]);
    for (const query of ['limit=0', 'limit=513', 'limit=two', 'after=bm9wZQ', 'after=%2F%2F']) {
      now += 1_000;
      const res = await call('GET', `/webhooks?${query}`);
      expect(res.status, query).to.equal(400);
    }
  });

  it('holds an organization to 5 webhook reads a second, list and get together, with a fractional Retry-After', async () => {
    const created = (await create(hook)).body;
    now = start + 100;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await call('GET', i % 2 ? '/webhooks' : `/webhooks/${created.id}`)).status);
    expect(statuses).to.deep.equal([200, 200, 200, 200, 200]);
    now = start + 400;
    const limited = await call('GET', '/webhooks');
    expect(limited.status).to.equal(429);
    expect(limited.body.message).to.match(/GET \/webhooks in this organization/);
    expect(limited.headers.get('retry-after')).to.equal('0.70000');
    const otherApp = emulator.issueGrant('1001', 'other-app').accessToken;
    expect((await call('GET', '/webhooks', undefined, otherApp)).status, 'every app of the organization').to.equal(429);
    expect((await call('GET', '/webhooks', undefined, emulator.issueGrant('2002').accessToken)).status).to.equal(200);
    expect((await call('PATCH', `/webhooks/${created.id}`, { name: 'writes have their own budget' })).status).to.equal(
      200,
    );
    now = start + 1_100;
    expect((await call('GET', '/webhooks')).status).to.equal(200);
  });

  it('holds an organization to 100 webhook writes a minute, create, update and delete together', async () => {
    const created = (await create(hook)).body;
    for (let i = 1; i < 100; i++) {
      now = start + i * 100;
      const res = await call('PATCH', `/webhooks/${created.id}`, { name: `rename ${i}` });
      expect(res.status, `write ${i + 1}`).to.equal(200);
    }
    now = start + 30_000;
    const limited = await call('DELETE', `/webhooks/${created.id}`);
    expect(limited.status).to.equal(429);
    expect(limited.body.message).to.match(/webhook writes in this organization/);
    expect(limited.headers.get('retry-after'), 'until the first write leaves the minute').to.equal('30.00000');
    expect((await create(hook, emulator.issueGrant('2002').accessToken)).status, 'another organization').to.equal(200);
    expect((await call('GET', `/webhooks/${created.id}`)).body.name, 'refused: not written').to.equal('rename 99');
    now = start + 60_000;
    expect((await call('DELETE', `/webhooks/${created.id}`)).status).to.equal(204);
    expect(emulator.counters.rateLimited).to.equal(1);
  });

  it('asks for Read Webhooks to read and Write Webhooks to write, after the token and the limits', async () => {
    const created = (await create(hook)).body;
    const reader = emulator.issueGrant('1001', 'reader').accessToken;
    expect((await call('GET', '/webhooks', undefined, reader)).status).to.equal(200);
    const write = await create(hook, reader);
    expect(write.status).to.equal(403);
    expect(write.body.message).to.match(/Write Webhooks scope \(write_webhooks\)/);
    expect((await call('DELETE', `/webhooks/${created.id}`, undefined, reader)).status).to.equal(403);
    const none = emulator.issueGrant('1001', 'no-webhooks').accessToken;
    const read = await call('GET', `/webhooks/${created.id}`, undefined, none);
    expect(read.status).to.equal(403);
    expect(read.body.message).to.match(/Read Webhooks scope \(read_webhooks\)/);
    expect(emulator.counters.forbidden).to.equal(3);
    expect((await call('GET', '/webhooks', undefined, null)).status).to.equal(401);
    expect((await call('GET', '/webhooks', undefined, 'not-a-token')).status).to.equal(401);
    const put = await call('PUT', `/webhooks/${created.id}`, hook);
    expect([put.status, put.headers.get('allow')]).to.deep.equal([405, 'GET, PATCH, DELETE']);
    expect((await call('DELETE', '/webhooks')).headers.get('allow')).to.equal('GET, POST');
    expect((await call('GET', '/webhooks/1/deliveries')).status).to.equal(404);
    expect((await call('GET', '/webhooksx')).status).to.equal(404);
  });

  it('keeps at most 100 webhooks per organization', async () => {
    for (let i = 0; i < 100; i++) emulator.addWebhook('1001', { ...hook, name: `hook ${i}` });
    const refused = await create(hook);
    expect(refused.status).to.equal(400);
    expect(refused.body.message).to.match(/at most 100 webhooks/);
    expect((await create(hook, emulator.issueGrant('2002').accessToken)).status).to.equal(200);
  });
});
