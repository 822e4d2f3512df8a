import { expect } from 'chai';
import express, { type Express } from 'express';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import sinon from 'sinon';
import request from 'supertest';
import {
  MemoryTokenStore,
  SAMSARA_CHANNELS,
  TokenManager,
  samsaraWebhooks,
  type SamsaraWebhookEvent,
  type SamsaraWebhooksOptions,
  type TokenStore,
  type WebhookDeliveryEvent,
} from 'passport-samsara';
import { ConfigurationError } from 'passport-samsara/errors';
import { type WebhookFailureContext } from 'passport-samsara/webhooks';
import { signSamsaraWebhook } from 'passport-samsara/testing';

// The Express receiver over real HTTP (supertest): raw body, secrets per organization, the
// verification's refusals, once-per-event handling, and what it tells (never a secret or a body).

const SECRET = Buffer.from('the current secret').toString('base64');
const OLD_SECRET = Buffer.from('the previous secret').toString('base64');
const client = { clientID: 'c', clientSecret: 's', baseURL: 'http://127.0.0.1:9' };

let serial = 0;
function eventOf(overrides: Partial<SamsaraWebhookEvent> = {}): SamsaraWebhookEvent {
  const event: SamsaraWebhookEvent = {
    eventId: `event-${++serial}`,
    eventTime: new Date().toISOString(),
    eventType: 'VehicleCreated',
    orgId: 1001,
    webhookId: '1411751028848270',
    data: { vehicle: { id: '494123' } },
  };
  return { ...event, ...overrides };
}

function signed(payload: unknown, secret = SECRET, timestamp?: number) {
  return signSamsaraWebhook({ payload, secret, ...(timestamp !== undefined && { timestamp }) });
}

describe('samsaraWebhooks (the Express receiver)', function () {
  this.timeout(20_000);
  let handled: SamsaraWebhookEvent[];
  let errors: Array<{ err: unknown; delivery: WebhookFailureContext }>;
  let told: WebhookDeliveryEvent[];
  const listener = (message: unknown): void => void told.push(message as WebhookDeliveryEvent);

  beforeEach(() => {
    handled = [];
    errors = [];
    told = [];
    subscribe(SAMSARA_CHANNELS.webhook, listener);
  });
  afterEach(() => {
    unsubscribe(SAMSARA_CHANNELS.webhook, listener);
    sinon.restore();
  });

  /** An app with the receiver at /hooks, before any body parser unless `before` says otherwise. */
  function appWith(options: Partial<SamsaraWebhooksOptions> = {}, before?: express.RequestHandler): Express {
    const app = express();
    if (before) app.use(before);
    app.post(
      '/hooks',
      samsaraWebhooks({
        secrets: async ({ orgId }) => (orgId === '1001' ? [SECRET, OLD_SECRET] : undefined),
        handlers: { VehicleCreated: (event) => void handled.push(event) },
        onError: (err, delivery) => void errors.push({ err, delivery }),
        ...options,
      }),
    );
    app.use(express.json());
    return app;
  }

  const post = (app: Express, delivery: { body: string; headers: Record<string, string> }) =>
    request(app).post('/hooks').set(delivery.headers).send(delivery.body);

  it('hands a verified event to the handler of its type, with the request, and answers 204', async () => {
    const seen: Array<[string, string]> = [];
    const app = appWith({
      handlers: {
        VehicleCreated: (event, req) => {
          // Typed by its type: data is the event's own object.
          seen.push([event.eventType, req.get('x-samsara-timestamp') ?? '']);
          handled.push(event);
        },
      },
    });
    const event = eventOf();
    const delivery = signed(event);
    const res = await post(app, delivery);
    expect(res.status).to.equal(204);
    expect(handled).to.deep.equal([event]);
    expect(seen).to.deep.equal([['VehicleCreated', delivery.headers['x-samsara-timestamp']]]);
    expect(told.map((m) => [m.outcome, m.status, m.orgId, m.eventId, m.eventType])).to.deep.equal([
      ['handled', 204, '1001', event.eventId, 'VehicleCreated'],
    ]);
    expect(errors).to.deep.equal([]);
  });

  it('accepts either secret while a rotation keeps both', async () => {
    const app = appWith();
    expect((await post(app, signed(eventOf(), SECRET))).status).to.equal(204);
    expect((await post(app, signed(eventOf(), OLD_SECRET))).status).to.equal(204);
    expect(handled).to.have.length(2);
  });

  it('fails loudly on a body express.json() already parsed (SAMSARA_WEBHOOK_BODY_CONSUMED), running nothing', async () => {
    const parsers: Array<[express.RequestHandler, string]> = [
      [express.json(), 'application/json'],
      [express.text({ type: '*/*' }), 'application/json'],
      [express.urlencoded(), 'application/x-www-form-urlencoded'],
      // One of the app's own, that reads the stream and leaves nothing behind.
      [(req, _res, next) => req.resume().on('end', () => next()), 'application/json'],
    ];
    for (const [parser, contentType] of parsers) {
      errors = [];
      const app = appWith({}, parser);
      const res = await post(app, signed(eventOf())).set('content-type', contentType);
      expect(res.status).to.equal(500);
      expect(res.body.error.code).to.equal('SAMSARA_WEBHOOK_BODY_CONSUMED');
      expect(errors).to.have.length(1);
      expect((errors[0].err as Error).message).to.match(/body parser.*before samsaraWebhooks\(\)/);
    }
    expect(handled).to.deep.equal([]);
  });

  it('takes the raw Buffer express.raw() leaves', async () => {
    const app = appWith({}, express.raw({ type: '*/*' }));
    expect((await post(app, signed(eventOf()))).status).to.equal(204);
    expect(handled).to.have.length(1);
  });

  it('refuses forged, tampered, stale and unsigned deliveries with their codes, running nothing and logging nothing', async () => {
    const app = appWith();
    const genuine = signed(eventOf());
    const stale = signed(eventOf(), SECRET, Math.floor(Date.now() / 1000) - 301);
    const wrong = signed(eventOf(), Buffer.from('a guess').toString('base64'));
    const tampered = { ...genuine, body: genuine.body.replace('494123', '494124') };
    const unsigned = { body: genuine.body, headers: { 'content-type': 'application/json' } };
    const notJson = signed('{"eventId": "e-1", "orgId": 1001,');
    const cases: Array<[string, { body: string; headers: Record<string, string> }, number, string]> = [
      ['tampered', tampered, 401, 'SAMSARA_WEBHOOK_MISMATCH'],
      ['wrong secret', wrong, 401, 'SAMSARA_WEBHOOK_MISMATCH'],
      ['stale', stale, 401, 'SAMSARA_WEBHOOK_STALE'],
      ['unsigned', unsigned, 400, 'SAMSARA_WEBHOOK_MISSING_HEADER'],
      ['not JSON', notJson, 400, 'SAMSARA_WEBHOOK_BAD_PAYLOAD'],
    ];
    for (const [what, delivery, status, code] of cases) {
      const res = await post(app, delivery);
      expect([res.status, res.body.error?.code], what).to.deep.equal([status, code]);
    }
    expect(handled).to.deep.equal([]);
    expect(errors, 'a refusal is not the app’s error').to.deep.equal([]);
    expect(told.map((m) => [m.outcome, m.code])).to.deep.equal(cases.map(([, , , code]) => ['refused', code]));
  });

  it('answers an organization without a secret here exactly as a forgery, so a forger cannot tell which are connected', async () => {
    const app = appWith();
    const stranger = await post(app, signed(eventOf({ orgId: 2002 })));
    const forged = await post(app, signed(eventOf(), Buffer.from('a guess').toString('base64')));
    expect(stranger.status).to.equal(401);
    expect(stranger.body).to.deep.equal(forged.body);
    const nameless = await post(app, signed({ eventId: 'e', hello: 'world' }));
    expect(nameless.body).to.deep.equal(forged.body);
    expect(handled).to.deep.equal([]);
  });

  it('runs each event once: a duplicate after it was handled is answered 204 without running it again', async () => {
    const app = appWith();
    const delivery = signed(eventOf());
    expect((await post(app, delivery)).status).to.equal(204);
    expect((await post(app, delivery)).status).to.equal(204);
    const resigned = signed(JSON.parse(delivery.body));
    expect((await post(app, resigned)).status, "Samsara's retry, signed anew").to.equal(204);
    expect(handled).to.have.length(1);
    expect(told.map((m) => m.outcome)).to.deep.equal(['handled', 'duplicate', 'duplicate']);
    const sameIdElsewhere = signed({ ...JSON.parse(delivery.body), orgId: 1001, eventType: 'VehicleUpdated' });
    expect((await post(app, sameIdElsewhere)).status, 'no handler: dropped').to.equal(204);
  });

  it('answers 409 with Retry-After while the same event is being handled, then 204 as a duplicate', async () => {
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const app = appWith({
      processingTtl: 30_000,
      handlers: {
        VehicleCreated: async (event) => {
          await finished;
          handled.push(event);
        },
      },
    });
    const delivery = signed(eventOf());
    const first = post(app, delivery).then((res) => res);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const meanwhile = await post(app, delivery);
    expect(meanwhile.status).to.equal(409);
    expect(meanwhile.headers['retry-after']).to.equal('30');
    expect(meanwhile.body.error.code).to.equal('SAMSARA_WEBHOOK_IN_PROGRESS');
    finish();
    expect((await first).status).to.equal(204);
    expect((await post(app, delivery)).status).to.equal(204);
    expect(handled).to.have.length(1);
  });

  it('answers 500 when a handler throws, logs it without the body or a secret, and lets the retry run it', async () => {
    let failures = 1;
    const app = appWith({
      handlers: {
        VehicleCreated: (event) => {
          if (failures-- > 0) throw new Error('the database is down');
          handled.push(event);
        },
      },
    });
    const event = eventOf();
    const delivery = signed(event);
    const failed = await post(app, delivery);
    expect(failed.status).to.equal(500);
    expect(failed.body.error).to.deep.equal({
      code: 'SAMSARA_WEBHOOK_HANDLER_FAILED',
      message: 'The app failed to handle the event; retry later.',
    });
    expect(errors).to.have.length(1);
    expect((errors[0].err as Error).message).to.equal('the database is down');
    expect(errors[0].delivery).to.deep.equal({
      orgId: '1001',
      webhookId: event.webhookId,
      eventId: event.eventId,
      eventType: 'VehicleCreated',
    });
    expect((await post(app, delivery)).status, 'the retry runs it').to.equal(204);
    expect(handled).to.deep.equal([event]);
    expect(told.map((m) => [m.outcome, m.status])).to.deep.equal([
      ['failed', 500],
      ['handled', 204],
    ]);
  });

  it('writes a failure as one JSON line on stderr by default, without the body, a secret or the signature', async () => {
    const written: string[] = [];
    sinon.stub(process.stderr, 'write').callsFake((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const app = express();
    app.post(
      '/hooks',
      samsaraWebhooks({
        secrets: SECRET,
        handlers: {
          default: () => {
            throw new Error('boom');
          },
        },
      }),
    );
    const delivery = signed(eventOf({ data: { secretish: 'body-content-nobody-logs' } }));
    expect((await post(app, delivery)).status).to.equal(500);
    sinon.restore();
    expect(written).to.have.length(1);
    const line = JSON.parse(written[0]);
    expect(line).to.include({
      level: 'error',
      source: 'passport-samsara webhooks',
      orgId: '1001',
      eventType: 'VehicleCreated',
    });
    expect(line.error).to.match(/^Error: boom/);
    for (const leaked of [SECRET, delivery.headers['x-samsara-signature'], 'body-content-nobody-logs']) {
      expect(written[0]).to.not.include(leaked);
    }
  });

  it('sends types without a handler of their own to default, and drops them (204) when there is none', async () => {
    const defaults: string[] = [];
    const app = appWith({ handlers: { default: (event) => void defaults.push(event.eventType) } });
    await post(app, signed(eventOf({ eventType: 'DvirSubmitted' })));
    await post(app, signed(eventOf({ eventType: 'TrailerHitched' as 'DvirSubmitted' })));
    expect(defaults).to.deep.equal(['DvirSubmitted', 'TrailerHitched']);
    const store = new MemoryTokenStore();
    const claims = sinon.spy(store, 'claim');
    const none = appWith({ store, handlers: {} });
    expect((await post(none, signed(eventOf()))).status).to.equal(204);
    expect((await post(none, signed(eventOf({ eventType: 'constructor' as 'DvirSubmitted' })))).status).to.equal(204);
    expect(claims.callCount, 'nothing to run, nothing claimed').to.equal(0);
    expect(told.slice(-2).map((m) => m.outcome)).to.deep.equal(['unhandled', 'unhandled']);
  });

  it('refuses a body over maxBodyBytes with 413, declared or streamed, and closes the connection', async () => {
    const app = appWith({ maxBodyBytes: 1024 });
    const big = signed(eventOf({ data: { padding: 'x'.repeat(2000) } }));
    const declared = await post(app, big);
    expect([declared.status, declared.body.error.code]).to.deep.equal([413, 'SAMSARA_WEBHOOK_TOO_LARGE']);
    expect(declared.headers.connection).to.equal('close');
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: (server.address() as AddressInfo).port,
            path: '/hooks',
            method: 'POST',
            headers: big.headers,
          },
          (res) => resolve(res.statusCode ?? 0),
        );
        req.on('error', reject);
        // Chunked, with no Content-Length: the limit is found while reading.
        for (let i = 0; i < 4; i++) req.write(big.body.slice(i * 600, (i + 1) * 600));
        req.end(big.body.slice(2400));
      });
      expect(status).to.equal(413);
      const declaredOnly = await new Promise<number>((resolve, reject) => {
        const headers = { ...big.headers, 'content-length': String(10 * 1024 * 1024) };
        const req = httpRequest(
          { host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/hooks', method: 'POST', headers },
          (res) => resolve(res.statusCode ?? 0),
        );
        req.on('error', reject);
        // Ten megabytes announced, a few bytes sent: refused on the announcement, without waiting for the rest.
        req.write(big.body.slice(0, 100));
      });
      expect(declaredOnly).to.equal(413);
    } finally {
      server.closeAllConnections();
      server.close();
    }
    expect(handled).to.deep.equal([]);
  });

  it('lets a client that hangs up mid-body go, telling nobody, and serves the next delivery', async () => {
    const app = appWith();
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const delivery = signed(eventOf());
      const port = (server.address() as AddressInfo).port;
      await new Promise<void>((resolve) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/hooks', method: 'POST', headers: delivery.headers });
        req.on('error', () => resolve());
        req.write(delivery.body.slice(0, 20));
        setTimeout(() => req.destroy(), 50);
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(errors).to.deep.equal([]);
      expect(handled).to.deep.equal([]);
      expect((await post(app, delivery)).status).to.equal(204);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('answers anything but a POST with 405', async () => {
    const app = express();
    app.use('/hooks', samsaraWebhooks({ secrets: SECRET, handlers: {} }));
    const res = await request(app).get('/hooks');
    expect(res.status).to.equal(405);
    expect(res.headers.allow).to.equal('POST');
  });

  it('answers 500 (and tells onError) when the secret lookup throws, or finds a secret that is not Base64', async () => {
    const throwing = appWith({
      secrets: () => {
        throw new Error('lookup failed');
      },
    });
    const res = await post(throwing, signed(eventOf()));
    expect([res.status, res.body.error.code]).to.deep.equal([500, 'SAMSARA_WEBHOOK_FAILED']);
    const misconfigured = appWith({ secrets: () => 'the example secret from the docs' });
    const bad = await post(misconfigured, signed(eventOf()));
    expect([bad.status, bad.body.error.code]).to.deep.equal([500, 'SAMSARA_WEBHOOK_BAD_SECRET']);
    expect(bad.body.error.message, 'Samsara gets a fixed sentence').to.equal('The webhook receiver is misconfigured.');
    expect(errors.map(({ err }) => (err as Error).message)).to.have.length(2);
    expect((errors[1].err as Error).message).to.match(/not valid Base64/);
    expect(handled).to.deep.equal([]);
  });

  it("deduplicates in the manager's store, and refuses options it cannot use at once", () => {
    const tokens = new TokenManager({ client });
    expect(() => samsaraWebhooks({ tokens, secrets: SECRET, handlers: {} })).to.not.throw();
    const noClaim = Object.assign(new MemoryTokenStore(), { claim: undefined }) as unknown as TokenStore;
    expect(() => samsaraWebhooks({ store: noClaim, secrets: SECRET, handlers: {} })).to.throw(
      ConfigurationError,
      /claim/,
    );
    const typo = { VehicleCreate: () => undefined } as unknown as SamsaraWebhooksOptions['handlers'];
    expect(() => samsaraWebhooks({ secrets: SECRET, handlers: typo })).to.throw(ConfigurationError, /VehicleCreate/);
    const notAFunction = { VehicleCreated: 'yes' } as unknown as SamsaraWebhooksOptions['handlers'];
    expect(() => samsaraWebhooks({ secrets: SECRET, handlers: notAFunction })).to.throw(ConfigurationError);
    expect(() => samsaraWebhooks({ secrets: 42 as unknown as string, handlers: {} })).to.throw(ConfigurationError);
    for (const secrets of ['', [], 'the example secret from the docs', [SECRET, 'not base64!']]) {
      expect(() => samsaraWebhooks({ secrets, handlers: {} }), JSON.stringify(secrets)).to.throw(
        ConfigurationError,
        /secrets: (The webhook secret.*not valid Base64|No webhook secret)/,
      );
    }
    for (const bad of [
      { tolerance: -1 },
      { maxBodyBytes: 0 },
      { dedupeTtl: Number.NaN },
      { processingTtl: Infinity },
    ]) {
      expect(() => samsaraWebhooks({ secrets: SECRET, handlers: {}, ...bad }), JSON.stringify(bad)).to.throw(
        ConfigurationError,
      );
    }
    tokens.close();
  });

  it('never puts a secret, a signature or the body in an answer or a diagnostics message', async () => {
    const app = appWith({
      handlers: {
        VehicleCreated: () => {
          throw new Error('nope');
        },
      },
    });
    const marker = 'body-marker-4f2a';
    const deliveries = [
      signed(eventOf({ data: { marker } })),
      signed(eventOf({ data: { marker } }), Buffer.from('forger').toString('base64')),
      signed(eventOf({ data: { marker } }), SECRET, 1),
    ];
    const answers: string[] = [];
    for (const delivery of deliveries) answers.push(JSON.stringify((await post(app, delivery)).body));
    const text = answers.join('\n') + JSON.stringify(told);
    for (const delivery of deliveries) expect(text).to.not.include(delivery.headers['x-samsara-signature'].slice(3));
    for (const leaked of [SECRET, OLD_SECRET, marker]) expect(text).to.not.include(leaked);
  });
});
