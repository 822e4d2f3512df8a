import { expect } from 'chai';
import request from 'supertest';
import { MemoryTokenStore, OAuthClient, TokenManager } from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { relay, startApiApp } from './support/api-app.js';
import { fakeClock, fakeTimersPromises, type FakeClock } from './support/clock.js';
import { clientOf, seedGrant } from './support/grants.js';
import { json, startRecordingServer, type Recorded } from './support/recording-server.js';

type Body = NonNullable<RequestInit['body']>;

/** Every kind of body `fetch` can send twice, each made fresh per test. */
const REPLAYABLE: Array<[string, () => Body]> = [
  ['a string', () => '{"name":"Truck #1"}'],
  ['a Uint8Array', () => new TextEncoder().encode('uint8 bytes')],
  ['a Buffer', () => Buffer.from('buffer bytes')],
  ['a DataView', () => new DataView(new TextEncoder().encode('xxview bytes').buffer, 2)],
  ['an ArrayBuffer', () => new TextEncoder().encode('array buffer bytes').buffer],
  ['a Blob', () => new Blob(['blob bytes'], { type: 'text/plain' })],
  [
    'FormData with a file',
    () => {
      const form = new FormData();
      form.append('name', 'Truck #1');
      form.append('notes', new Blob(['file content'], { type: 'text/plain' }), 'notes.txt');
      return form;
    },
  ],
  ['URLSearchParams', () => new URLSearchParams({ name: 'Truck #1', vin: '1FT' })],
];

/** Bodies the first send consumes. Node's fetch wants `duplex: 'half'` for them. */
const ONE_SHOT: Array<[string, () => Body]> = [
  ['a ReadableStream', () => new Blob(['streamed']).stream()],
  [
    'an async iterable',
    () =>
      (async function* () {
        yield new TextEncoder().encode('iterated');
      })(),
  ],
];

const REJECTIONS = {
  401: { type: 'status', status: 401, body: '{"message":"expired"}', contentType: 'application/json' },
  429: {
    type: 'status',
    status: 429,
    body: '{"message":"slow down"}',
    contentType: 'application/json',
    headers: { 'retry-after': '0' },
  },
} as const;

describe('API calls: which bodies are resent after a 401 or a 429', () => {
  let app: { url: string; close(): Promise<void> } | undefined;
  // The 429 waits (node:timers/promises) run on a fake clock: each costs no real time and is
  // checked to be the 50 ms floor under a Retry-After of 0 or 0.01.
  let clock: FakeClock;
  let pauses: { restore(): void };
  beforeEach(() => {
    clock = fakeClock();
    pauses = fakeTimersPromises(clock);
  });
  afterEach(async () => {
    pauses.restore();
    await app?.close();
    app = undefined;
  });

  describe('against the emulator (its API ignores bodies: a POST ends in 405 once it passes the fault)', () => {
    let emulator: SamsaraEmulator;
    let store: MemoryTokenStore;
    let tokens: TokenManager;
    let makeBody: () => Body;

    beforeEach(async () => {
      emulator = await startSamsaraEmulator();
      store = new MemoryTokenStore();
      // Samsara's own 429s on a fake clock; the fleet's pacing: rate-limit.*.test.ts.
      tokens = new TokenManager({
        store,
        client: new OAuthClient({ ...clientOf(emulator), timeout: 2_000 }),
        rateLimit: false,
      });
      await seedGrant(emulator, store, '1001', 3600_000);
      app = await startApiApp({
        tokens,
        route: async (req, res) =>
          relay(res, await req.samsara.fetch('/fleet/vehicles', { method: 'POST', body: makeBody(), duplex: 'half' })),
      });
    });
    afterEach(() => emulator.stop());

    for (const [kind, body] of REPLAYABLE) {
      it(`refreshes and resends ${kind} after a 401`, async () => {
        makeBody = body;
        emulator.injectFault('api', REJECTIONS[401]);
        await request(app!.url).post('/call').expect(405);
        expect(emulator.counters.apiCalls).to.equal(2);
        expect(emulator.counters.grants.refresh_token).to.equal(1);
      });

      it(`resends ${kind} after a 429`, async () => {
        makeBody = body;
        emulator.injectFault('api', REJECTIONS[429]);
        const call = request(app!.url)
          .post('/call')
          .expect(405)
          .then((res) => res);
        expect(await clock.timeTaken(call), 'the floor under Retry-After: 0').to.equal(50);
        await call;
        expect(emulator.counters.apiCalls).to.equal(2);
      });
    }

    for (const [kind, body] of ONE_SHOT) {
      it(`hands back the 401 of ${kind} as is: no refresh, nothing resent`, async () => {
        makeBody = body;
        emulator.injectFault('api', REJECTIONS[401]);
        await request(app!.url).post('/call').expect(401);
        expect(emulator.counters.apiCalls).to.equal(1);
        expect(emulator.counters.grants.refresh_token).to.equal(0);
      });

      it(`hands back the 429 of ${kind} as is: nothing resent`, async () => {
        makeBody = body;
        emulator.injectFault('api', REJECTIONS[429]);
        await request(app!.url).post('/call').expect(429);
        expect(emulator.counters.apiCalls).to.equal(1);
      });
    }
  });

  describe('against a recording server (what the resend carries)', () => {
    let upstream: Awaited<ReturnType<typeof startRecordingServer>>;
    let makeBody: () => Body;

    /** The API requests the server saw, without the token requests a refresh made. */
    const apiRequests = (): Recorded[] => upstream.requests.filter((r) => r.path.startsWith('/fleet/'));

    /** Answers token requests with a fresh grant, the first API request with `first`, later ones 200. */
    function script(first: number, headers: Record<string, string> = {}): void {
      upstream.reply((res) => {
        const last = upstream.requests[upstream.requests.length - 1];
        if (last.path === '/oauth2/token') {
          json(200, { access_token: 'access-2', token_type: 'bearer', expires_in: 3600, refresh_token: 'refresh-2' })(
            res,
          );
        } else if (apiRequests().length === 1) {
          res.writeHead(first, { 'content-type': 'application/json', ...headers }).end('{"message":"no"}');
        } else {
          json(200, { data: [] })(res);
        }
      });
    }

    beforeEach(async () => {
      upstream = await startRecordingServer();
      const tokens = new TokenManager({
        store: new MemoryTokenStore(),
        client: new OAuthClient({ clientID: 'client', clientSecret: 'secret', baseURL: upstream.url, timeout: 2_000 }),
        rateLimit: false,
      });
      await tokens.connect('1001', {
        accessToken: 'access-1',
        refreshToken: 'refresh-1',
        expiresAt: Date.now() + 3600_000,
      });
      app = await startApiApp({
        tokens,
        route: async (req, res) =>
          relay(res, await req.samsara.fetch('/fleet/vehicles', { method: 'POST', body: makeBody(), duplex: 'half' })),
      });
    });
    afterEach(() => upstream.stop());

    for (const [kind, body] of REPLAYABLE) {
      it(`resends the same content (${kind}) with the new token after a 401`, async () => {
        makeBody = body;
        script(401);
        await request(app!.url).post('/call').expect(200);
        const [first, second] = apiRequests();
        expect(apiRequests()).to.have.length(2);
        expect(first.headers.authorization).to.equal('Bearer access-1');
        expect(second.headers.authorization).to.equal('Bearer access-2');
        expect(await contentOf(second)).to.deep.equal(await contentOf(first));
        expect(await contentOf(first)).to.deep.equal(await contentOf(sent(body())));
      });

      it(`resends the same content (${kind}) after a 429`, async () => {
        makeBody = body;
        script(429, { 'retry-after': '0.01' });
        const call = request(app!.url)
          .post('/call')
          .expect(200)
          .then((res) => res);
        expect(await clock.timeTaken(call), 'the floor under Retry-After: 0.01').to.equal(50);
        await call;
        const [first, second] = apiRequests();
        expect(apiRequests()).to.have.length(2);
        expect(second.headers.authorization).to.equal('Bearer access-1');
        expect(await contentOf(second)).to.deep.equal(await contentOf(first));
        expect(await contentOf(first)).to.deep.equal(await contentOf(sent(body())));
      });
    }

    for (const [kind, body] of ONE_SHOT) {
      it(`sends ${kind} once`, async () => {
        makeBody = body;
        script(429, { 'retry-after': '0' });
        await request(app!.url).post('/call').expect(429);
        expect(apiRequests()).to.have.length(1);
        expect(apiRequests()[0].body).to.match(/streamed|iterated/);
      });
    }
  });
});

/** What `fetch` would send for `body`, as a recorded request (to compare against). */
function sent(body: Body): Promise<Recorded> {
  const made = new Request('http://example.invalid/', { method: 'POST', body });
  return made.text().then((text) => ({
    method: 'POST',
    path: '/',
    headers: { 'content-type': made.headers.get('content-type') ?? undefined },
    body: text,
  }));
}

/**
 * A request's content, comparable across sends: multipart bodies as their parts (each send draws
 * a new boundary), anything else as its content type and text.
 */
async function contentOf(recorded: Recorded | Promise<Recorded>): Promise<unknown> {
  const { headers, body } = await recorded;
  const type = headers['content-type'] ?? '';
  if (!type.startsWith('multipart/form-data')) return { type, body };
  // Deprecated for servers (it buffers); for a test comparing two small bodies, buffering is fine.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  const form = await new Response(body, { headers: { 'content-type': type } }).formData();
  const parts: unknown[] = [];
  for (const [name, value] of form) {
    parts.push(
      typeof value === 'string'
        ? { name, value }
        : { name, file: value.name, type: value.type, text: await value.text() },
    );
  }
  return { type: 'multipart/form-data', parts };
}
