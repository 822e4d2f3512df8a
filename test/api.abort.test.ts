import { expect } from 'chai';
import request from 'supertest';
import { MemoryTokenStore, OAuthClient, TokenManager } from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { relay, startApiApp, until } from './support/api-app.js';
import { fakeClock, fakeTimersPromises, type FakeClock } from './support/clock.js';
import { clientOf, seedGrant } from './support/grants.js';

describe("API calls: the caller's abort signal and the timeout", () => {
  let emulator: SamsaraEmulator;
  let store: MemoryTokenStore;
  let app: { url: string; close(): Promise<void> } | undefined;
  /** For the tests that wait (a 429, a delayed token endpoint): node:timers/promises on fake time. */
  let clock: FakeClock;
  let pauses: { restore(): void } | undefined;
  function fakePauses(): void {
    clock = fakeClock();
    pauses = fakeTimersPromises(clock);
  }

  function managerWithTimeout(timeout: number): TokenManager {
    return new TokenManager({ store, client: new OAuthClient({ ...clientOf(emulator), timeout }) });
  }

  beforeEach(async () => {
    emulator = await startSamsaraEmulator();
    store = new MemoryTokenStore();
    await seedGrant(emulator, store, '1001', 3600_000);
  });
  afterEach(async () => {
    pauses?.restore();
    pauses = undefined;
    await app?.close();
    app = undefined;
    await emulator.stop();
  });

  it("rejects with the caller's own reason when the caller aborts mid-request, not SAMSARA_UNREACHABLE", async () => {
    emulator.injectFault('api', { type: 'hang' });
    const reason = new Error('the browser went away');
    let caught: unknown;
    app = await startApiApp({
      tokens: managerWithTimeout(10_000),
      route: async (req) => {
        const controller = new AbortController();
        void until(() => emulator.counters.apiCalls === 1).then(() => controller.abort(reason));
        try {
          await req.samsara.fetch('/fleet/vehicles', { signal: controller.signal });
        } catch (err) {
          caught = err;
          throw err;
        }
      },
    });
    const res = await request(app.url).get('/call').expect(500);
    expect(caught).to.equal(reason);
    expect(res.body.thrown.message).to.equal('the browser went away');
  });

  it('rejects with the AbortError of a plain abort()', async () => {
    emulator.injectFault('api', { type: 'hang' });
    let caught: unknown;
    let signal: AbortSignal | undefined;
    app = await startApiApp({
      tokens: managerWithTimeout(10_000),
      route: async (req) => {
        const controller = new AbortController();
        signal = controller.signal;
        void until(() => emulator.counters.apiCalls === 1).then(() => controller.abort());
        try {
          await req.samsara.fetch('/fleet/vehicles', { signal });
        } catch (err) {
          caught = err;
          throw err;
        }
      },
    });
    await request(app.url).get('/call').expect(500);
    expect(caught).to.equal(signal!.reason);
    expect((caught as Error).name).to.equal('AbortError');
  });

  it('rejects at once, sending nothing, when the signal is already aborted', async () => {
    const reason = new Error('cancelled before it began');
    let caught: unknown;
    app = await startApiApp({
      tokens: managerWithTimeout(10_000),
      route: async (req) => {
        try {
          await req.samsara.fetch('/fleet/vehicles', { signal: AbortSignal.abort(reason) });
        } catch (err) {
          caught = err;
          throw err;
        }
      },
    });
    await request(app.url).get('/call').expect(500);
    expect(caught).to.equal(reason);
    expect(emulator.counters.apiCalls).to.equal(0);
  });

  it('stops waiting out a 429 when the caller aborts, and sends nothing more', async () => {
    fakePauses();
    emulator.injectFault('api', {
      type: 'status',
      status: 429,
      body: '{"message":"slow down"}',
      contentType: 'application/json',
      headers: { 'retry-after': '30' },
    });
    const reason = new Error('the browser went away');
    let caught: unknown;
    app = await startApiApp({
      tokens: managerWithTimeout(10_000),
      maxRateLimitWait: 60_000,
      route: async (req) => {
        const controller = new AbortController();
        // Aborts during the 30 s wait (time stands still: without the abort, it never ends).
        void clock.waiting().then(() => controller.abort(reason));
        try {
          await req.samsara.fetch('/fleet/vehicles', { signal: controller.signal });
        } catch (err) {
          caught = err;
          throw err;
        }
      },
    });
    await request(app.url).get('/call').expect(500);
    expect(caught).to.equal(reason);
    expect(clock.pending(), 'the wait is cancelled').to.equal(0);
    await clock.tick(30_000);
    expect(emulator.counters.apiCalls).to.equal(1);
  });

  it('stops waiting for a refresh when the caller aborts; the refresh itself completes for everyone else', async () => {
    fakePauses();
    const before = (await store.get('1001'))!;
    emulator.expireAccessTokens('1001');
    // The token endpoint answers only when the test moves the clock: the refresh stays in flight.
    emulator.injectFault('token', { type: 'delay', ms: 1_500 });
    const reason = new Error('the browser went away');
    let caught: unknown;
    const tokens = managerWithTimeout(10_000);
    app = await startApiApp({
      tokens,
      route: async (req) => {
        const controller = new AbortController();
        void until(() => emulator.counters.tokenRequests === 1).then(() => controller.abort(reason));
        try {
          await req.samsara.fetch('/fleet/vehicles', { signal: controller.signal });
        } catch (err) {
          caught = err;
          throw err;
        }
      },
    });
    await request(app.url).get('/call').expect(500);
    expect(caught).to.equal(reason);
    expect(emulator.counters.apiCalls).to.equal(1);
    // Joins the refresh still in flight (a second one would show in the counter).
    const after = tokens.accessToken('1001', { rejected: before.accessToken });
    await clock.waiting();
    await clock.tick(1_500);
    expect(await after).to.not.equal(before.accessToken);
    expect((await store.get('1001'))!.accessToken).to.equal(await after);
    expect(emulator.counters.grants.refresh_token).to.equal(1);
  });

  it('keeps the timeout when the caller passes a signal: a hung API is SAMSARA_TIMEOUT (504)', async function () {
    // Without the timeout, the call would hang until the emulator stops.
    this.timeout(5_000);
    emulator.injectFault('api', { type: 'hang' });
    const controller = new AbortController();
    app = await startApiApp({
      tokens: managerWithTimeout(100),
      route: async (req, res) => relay(res, await req.samsara.fetch('/fleet/vehicles', { signal: controller.signal })),
    });
    const res = await request(app.url).get('/call').set('accept', 'application/json').expect(504);
    expect(res.body.error.code).to.equal('SAMSARA_TIMEOUT');
    expect(controller.signal.aborted).to.equal(false);
  });

  it('maps a hung API without a signal to SAMSARA_TIMEOUT (504)', async function () {
    this.timeout(5_000);
    emulator.injectFault('api', { type: 'hang' });
    app = await startApiApp({
      tokens: managerWithTimeout(100),
      route: async (req, res) => relay(res, await req.samsara.fetch('/fleet/vehicles')),
    });
    const res = await request(app.url).get('/call').set('accept', 'application/json').expect(504);
    expect(res.body.error.code).to.equal('SAMSARA_TIMEOUT');
  });

  it('answers normally under a signal nobody aborts', async () => {
    app = await startApiApp({
      tokens: managerWithTimeout(10_000),
      route: async (req, res) =>
        relay(res, await req.samsara.fetch('/fleet/vehicles?limit=2', { signal: new AbortController().signal })),
    });
    const res = await request(app.url).get('/call').expect(200);
    expect(res.body.data).to.have.length(2);
  });
});
