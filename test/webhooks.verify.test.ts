import { expect } from 'chai';
import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import { verifySamsaraWebhook, type VerifySamsaraWebhookOptions } from 'passport-samsara';
import { ConfigurationError, WebhookVerificationError, type WebhookErrorCode } from 'passport-samsara/errors';
import { signSamsaraWebhook } from 'passport-samsara/testing';

// verifySamsaraWebhook against Samsara's scheme as its backend's golden vector and the test's own
// signer (written here from the documented scheme, not the package's code) give it: the raw
// bytes, the Base64-decoded key, the replay window, several secrets, and a code per refusal.

const SECRET = 'dGVzdC1zZWNyZXQ='; // Base64 of "test-secret"
const NOW = 1_700_000_000_000;

/** The test's own signer: HMAC-SHA256 of `v1:<timestamp>:<body>` under the decoded secret. */
function sign(body: Buffer | string, secret: string, timestamp: number): Record<string, string> {
  const mac = createHmac('sha256', Buffer.from(secret, 'base64'));
  mac.update(Buffer.concat([Buffer.from(`v1:${timestamp}:`), Buffer.from(body)]));
  return { 'x-samsara-signature': `v1=${mac.digest('hex')}`, 'x-samsara-timestamp': String(timestamp) };
}

const event = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  eventId: 'f3b8a1c2-6d7e-4f90-8a1b-2c3d4e5f6a7b',
  eventTime: '2023-11-14T22:13:20.000Z',
  eventType: 'VehicleCreated',
  orgId: 1001,
  webhookId: '1411751028848270',
  data: { vehicle: { id: '494123', name: 'Fleet Truck #1' } },
  ...overrides,
});

/** The error a verification refused with; fails when it accepted. */
function thrown(options: VerifySamsaraWebhookOptions): WebhookVerificationError {
  try {
    verifySamsaraWebhook(options);
  } catch (err) {
    expect(err).to.be.instanceOf(WebhookVerificationError);
    return err as WebhookVerificationError;
  }
  throw new Error('the delivery was accepted');
}

const refusal = (options: VerifySamsaraWebhookOptions): WebhookErrorCode => thrown(options).code;

describe('verifySamsaraWebhook', () => {
  const body = JSON.stringify(event());
  const signed = (overrides: Partial<VerifySamsaraWebhookOptions> = {}): VerifySamsaraWebhookOptions => ({
    body,
    headers: sign(body, SECRET, NOW / 1000),
    secret: SECRET,
    now: NOW,
    ...overrides,
  });

  it("accepts Samsara's golden vector: its signature verifies, and only then is the body found not to be JSON", () => {
    const headers = {
      'x-samsara-signature': 'v1=e05d9d1f326a1f8a845d2520d09d45c6b20c1931828bbd1dd3858446e7ae7082',
      'x-samsara-timestamp': '1700000000',
    };
    expect(sign('test-body', SECRET, 1_700_000_000), 'the test signer agrees with the vector').to.deep.equal(headers);
    const options = { body: 'test-body', headers, secret: SECRET, now: NOW };
    expect(refusal(options)).to.equal('SAMSARA_WEBHOOK_BAD_PAYLOAD');
    expect(refusal({ ...options, body: 'test-bodY' })).to.equal('SAMSARA_WEBHOOK_MISMATCH');
  });

  it('returns the event, typed, from a Buffer or a string body, and from Node or Fetch headers', () => {
    const fromString = verifySamsaraWebhook(signed());
    expect(fromString).to.deep.equal(event());
    if (fromString.eventType === 'VehicleCreated') expect(fromString.orgId + 1).to.equal(1002);
    expect(verifySamsaraWebhook(signed({ body: Buffer.from(body) }))).to.deep.equal(event());
    expect(verifySamsaraWebhook(signed({ headers: new Headers(sign(body, SECRET, NOW / 1000)) }))).to.deep.equal(
      event(),
    );
    const shouted = Object.fromEntries(
      Object.entries(sign(body, SECRET, NOW / 1000)).map(([k, v]) => [k.toUpperCase(), v]),
    );
    expect(verifySamsaraWebhook(signed({ headers: shouted })), 'a hand-built object, any case').to.deep.equal(event());
  });

  it("agrees with the emulator's signer, for users' own tests", () => {
    const delivery = signSamsaraWebhook({ payload: event(), secret: SECRET, timestamp: NOW / 1000 });
    expect(delivery.headers['x-samsara-signature']).to.equal(
      sign(delivery.body, SECRET, NOW / 1000)['x-samsara-signature'],
    );
    expect(verifySamsaraWebhook({ ...delivery, secret: SECRET, now: NOW })).to.deep.equal(event());
  });

  it('refuses a tampered body, a wrong secret, and a signature of another timestamp, with SAMSARA_WEBHOOK_MISMATCH (401)', () => {
    expect(refusal(signed({ body: body.replace('494123', '494124') }))).to.equal('SAMSARA_WEBHOOK_MISMATCH');
    expect(refusal(signed({ secret: Buffer.from('another-secret').toString('base64') }))).to.equal(
      'SAMSARA_WEBHOOK_MISMATCH',
    );
    const moved = { ...sign(body, SECRET, NOW / 1000), 'x-samsara-timestamp': String(NOW / 1000 + 1) };
    expect(refusal(signed({ headers: moved }))).to.equal('SAMSARA_WEBHOOK_MISMATCH');
    const rawKey = createHmac('sha256', SECRET)
      .update(`v1:${NOW / 1000}:${body}`)
      .digest('hex');
    const pythonSdk = { 'x-samsara-signature': `v1=${rawKey}`, 'x-samsara-timestamp': String(NOW / 1000) };
    expect(refusal(signed({ headers: pythonSdk })), 'keyed with the secret not decoded').to.equal(
      'SAMSARA_WEBHOOK_MISMATCH',
    );
    expect(thrown(signed({ body: `${body} ` })).status).to.equal(401);
  });

  it('refuses a delivery signed outside the replay window (default 300 s, either way) with SAMSARA_WEBHOOK_STALE', () => {
    const at = (seconds: number) => signed({ headers: sign(body, SECRET, NOW / 1000 + seconds) });
    expect(verifySamsaraWebhook(at(-300))).to.deep.equal(event());
    expect(verifySamsaraWebhook(at(300))).to.deep.equal(event());
    expect(refusal(at(-301))).to.equal('SAMSARA_WEBHOOK_STALE');
    expect(refusal(at(301))).to.equal('SAMSARA_WEBHOOK_STALE');
    expect(refusal({ ...at(-30), tolerance: 10 })).to.equal('SAMSARA_WEBHOOK_STALE');
    expect(verifySamsaraWebhook({ ...at(-3600), tolerance: 3600 })).to.deep.equal(event());
    expect(verifySamsaraWebhook({ ...at(0), tolerance: 0 })).to.deep.equal(event());
    const old = sign(body, SECRET, Math.floor(Date.now() / 1000) - 600);
    expect(refusal({ body, headers: old, secret: SECRET }), 'now defaults to Date.now()').to.equal(
      'SAMSARA_WEBHOOK_STALE',
    );
    // A forgery is a mismatch, however old: the window is checked on genuine deliveries only.
    expect(refusal({ ...at(-9999), secret: Buffer.from('x').toString('base64') })).to.equal('SAMSARA_WEBHOOK_MISMATCH');
  });

  it('accepts any of several secrets, for rotation, and still refuses a signature of none', () => {
    const next = Buffer.from('the-next-secret').toString('base64');
    const other = Buffer.from('unrelated').toString('base64');
    expect(verifySamsaraWebhook(signed({ secret: [next, SECRET] }))).to.deep.equal(event());
    expect(verifySamsaraWebhook(signed({ secret: [SECRET, next] }))).to.deep.equal(event());
    expect(refusal(signed({ secret: [next, other] }))).to.equal('SAMSARA_WEBHOOK_MISMATCH');
  });

  it('refuses missing headers with SAMSARA_WEBHOOK_MISSING_HEADER (400), naming them', () => {
    const headers = sign(body, SECRET, NOW / 1000);
    for (const [left, named] of [
      [{ 'x-samsara-timestamp': headers['x-samsara-timestamp'] }, /X-Samsara-Signature/],
      [{ 'x-samsara-signature': headers['x-samsara-signature'] }, /X-Samsara-Timestamp/],
      [{}, /X-Samsara-Signature and X-Samsara-Timestamp/],
    ] as const) {
      const err = thrown(signed({ headers: left }));
      expect(err.code).to.equal('SAMSARA_WEBHOOK_MISSING_HEADER');
      expect(err.status).to.equal(400);
      expect(err.message).to.match(named);
    }
  });

  it('refuses headers of the wrong form with SAMSARA_WEBHOOK_BAD_HEADER', () => {
    const { 'x-samsara-signature': signature, 'x-samsara-timestamp': timestamp } = sign(body, SECRET, NOW / 1000);
    const hex = signature.slice(3);
    for (const bad of [
      hex,
      `v0=${hex}`,
      `v1=${hex.slice(1)}`,
      `v1=${hex}0`,
      `v1=${hex.slice(1)}g`,
      `v1=${hex},v1=${hex}`,
    ]) {
      expect(
        refusal(signed({ headers: { 'x-samsara-signature': bad, 'x-samsara-timestamp': timestamp } })),
        bad,
      ).to.equal('SAMSARA_WEBHOOK_BAD_HEADER');
    }
    for (const bad of ['', '1700000000.5', '-1700000000', '1.7e9', ' 1700000000', '1700000000000000000']) {
      expect(
        refusal(signed({ headers: { 'x-samsara-signature': signature, 'x-samsara-timestamp': bad } })),
        bad,
      ).to.equal('SAMSARA_WEBHOOK_BAD_HEADER');
    }
    const twice = { 'x-samsara-signature': [signature, signature], 'x-samsara-timestamp': timestamp };
    expect(refusal(signed({ headers: twice })), 'a header sent twice').to.equal('SAMSARA_WEBHOOK_BAD_HEADER');
    const upper = { 'x-samsara-signature': `v1=${hex.toUpperCase()}`, 'x-samsara-timestamp': timestamp };
    expect(verifySamsaraWebhook(signed({ headers: upper })), 'hex in either case').to.deep.equal(event());
  });

  it("says clearly that a secret is not Base64 (SAMSARA_WEBHOOK_BAD_SECRET, 500), as the docs' example secret is not", () => {
    for (const secret of [
      'secret-key-from-the-docs!',
      'dGVzdC1zZWNyZXQ',
      'dGVzdC1zZWNyZXQ=\n',
      'dGVzd_1zZWNyZXQ=',
      '',
    ]) {
      const err = thrown(signed({ secret }));
      expect(err.code, JSON.stringify(secret)).to.equal('SAMSARA_WEBHOOK_BAD_SECRET');
      expect(err.status).to.equal(500);
      expect(err.message).to.match(secret === '' ? /not valid Base64/ : /not valid Base64.*the example secret/);
      if (secret !== '') expect(err.message).to.not.include(secret.trim());
    }
    expect(thrown(signed({ secret: 'dGVzdC1zZWNyZXQ=\n' })).message).to.include('whitespace');
    const second = thrown(signed({ secret: [SECRET, 'not base64!'] }));
    expect(second.message, 'names it by position, never by value')
      .to.include('number 2 of 2')
      .and.not.include('not base64!');
    expect(thrown(signed({ secret: [] })).message).to.match(/No webhook secret/);
  });

  it('refuses a genuine body that is not JSON, or not a webhooks 2.0 event, with SAMSARA_WEBHOOK_BAD_PAYLOAD (400)', () => {
    const genuine = (text: string) => ({
      body: text,
      headers: sign(text, SECRET, NOW / 1000),
      secret: SECRET,
      now: NOW,
    });
    expect(refusal(genuine('{"eventId":'))).to.equal('SAMSARA_WEBHOOK_BAD_PAYLOAD');
    expect(refusal(genuine('[]'))).to.equal('SAMSARA_WEBHOOK_BAD_PAYLOAD');
    const v1 = { eventId: 'e', eventMs: NOW, eventType: 'Alert', event: {} };
    expect(refusal(genuine(JSON.stringify(v1))), 'a webhooks 1.0 payload').to.equal('SAMSARA_WEBHOOK_BAD_PAYLOAD');
    for (const broken of [
      { eventId: '' },
      { eventId: 'x'.repeat(257) },
      { orgId: '1001' },
      { data: [] },
      { data: null },
      { eventType: 7 },
      { webhookId: undefined },
    ]) {
      expect(refusal(genuine(JSON.stringify(event(broken)))), JSON.stringify(broken)).to.equal(
        'SAMSARA_WEBHOOK_BAD_PAYLOAD',
      );
    }
    const unknownType = event({ eventType: 'TrailerCreated' });
    expect(verifySamsaraWebhook(genuine(JSON.stringify(unknownType))), 'a type Samsara adds later').to.deep.equal(
      unknownType,
    );
  });

  it('refuses a body that is no longer raw (parsed by express.json()) with SAMSARA_WEBHOOK_BODY_CONSUMED', () => {
    expect(refusal(signed({ body: event() as unknown as string }))).to.equal('SAMSARA_WEBHOOK_BODY_CONSUMED');
  });

  it('refuses a tolerance or now that is not a finite number, as a ConfigurationError', () => {
    for (const tolerance of [-1, Number.NaN, Infinity]) {
      expect(() => verifySamsaraWebhook(signed({ tolerance }))).to.throw(ConfigurationError);
    }
    expect(() => verifySamsaraWebhook(signed({ now: Number.NaN }))).to.throw(ConfigurationError);
  });

  it('puts no secret, signature or body in any message', () => {
    const secret = Buffer.from('a secret nobody may see').toString('base64');
    const text = JSON.stringify(event({ eventId: 'event-id-that-is-body' }));
    const headers = sign(text, secret, NOW / 1000);
    const attempts: VerifySamsaraWebhookOptions[] = [
      { body: text, headers, secret: SECRET, now: NOW },
      { body: text, headers, secret, now: NOW + 3_600_000 },
      { body: text, headers: { 'x-samsara-signature': headers['x-samsara-signature'] }, secret, now: NOW },
      { body: text.slice(1), headers: sign(text.slice(1), secret, NOW / 1000), secret, now: NOW },
    ];
    for (const options of attempts) {
      try {
        verifySamsaraWebhook(options);
      } catch (err) {
        const message = (err as Error).message;
        for (const leaked of [secret, headers['x-samsara-signature'].slice(3), 'event-id-that-is-body']) {
          expect(message).to.not.include(leaked);
        }
      }
    }
  });

  describe('properties (fast-check)', () => {
    const secrets = fc
      .uint8Array({ minLength: 1, maxLength: 64 })
      .map((bytes) => Buffer.from(bytes).toString('base64'));
    const bodies = fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes));
    const seconds = fc.integer({ min: 0, max: 4_000_000_000 });

    it('any body, secret and timestamp signed by the test signer verifies (up to the JSON check)', () => {
      fc.assert(
        fc.property(bodies, secrets, seconds, (raw, secret, timestamp) => {
          const code = refusal({ body: raw, headers: sign(raw, secret, timestamp), secret, now: timestamp * 1000 });
          expect(code).to.equal('SAMSARA_WEBHOOK_BAD_PAYLOAD');
        }),
        { numRuns: 300 },
      );
      fc.assert(
        fc.property(fc.jsonValue(), secrets, seconds, (data, secret, timestamp) => {
          const text = JSON.stringify(event({ data: { value: data } }));
          const options = { body: text, headers: sign(text, secret, timestamp), secret, now: timestamp * 1000 };
          expect(verifySamsaraWebhook(options)).to.deep.equal(JSON.parse(text));
        }),
        { numRuns: 300 },
      );
    });

    it('any single-byte change to the body, or a change of the timestamp, is refused', () => {
      fc.assert(
        fc.property(
          bodies.filter((raw) => raw.length > 0),
          secrets,
          seconds,
          fc.nat(),
          fc.integer({ min: 1, max: 255 }),
          (raw, secret, timestamp, at, flip) => {
            const headers = sign(raw, secret, timestamp);
            const changed = Buffer.from(raw);
            changed[at % changed.length] ^= flip;
            expect(refusal({ body: changed, headers, secret, now: timestamp * 1000 })).to.equal(
              'SAMSARA_WEBHOOK_MISMATCH',
            );
            const later = { ...headers, 'x-samsara-timestamp': String(timestamp + 1) };
            expect(refusal({ body: raw, headers: later, secret, now: timestamp * 1000 })).to.equal(
              'SAMSARA_WEBHOOK_MISMATCH',
            );
          },
        ),
        { numRuns: 500 },
      );
    });
  });
});
