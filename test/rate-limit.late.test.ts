import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryTokenStore, TokenManager } from 'passport-samsara';
import { RateLimits } from 'passport-samsara/rate-limit';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { clientOf } from './support/grants.js';

// A process that stalls (a long synchronous task, a starved CPU) wakes its paced requests late.
// Sent as they wake, requests whose turns were spaced out leave together, and a window of the
// limit holds more than the limit: Samsara answers 429. A request woken later than the spacing
// absorbs takes a new turn instead.

/** Blocks this process's event loop for `ms`: a stalled worker. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: no timer, no socket is served meanwhile
  }
}

describe('the rate limiter and a stalled process', function () {
  this.timeout(20_000);
  let emulator: SamsaraEmulator;

  beforeEach(async () => {
    emulator = await startSamsaraEmulator();
  });
  afterEach(async () => {
    await emulator.stop();
  });

  it('knows how late a request may leave: the shortest period x (1/utilization - 1), none at utilization 1', () => {
    expect(new RateLimits().slackMs).to.be.closeTo(111.1, 0.1);
    expect(new RateLimits({ utilization: 0.5 }).slackMs).to.equal(1000);
    expect(new RateLimits({ utilization: 1 }).slackMs).to.equal(0);
  });

  for (const [name, utilization, expectation] of [
    ['a request woken later than the spacing absorbs takes a new turn: no 429', 0.9, 'none'],
    [
      'at utilization 1 there is no slack to keep: the late requests crowd a window (the test above can fail)',
      1,
      'some',
    ],
  ] as const) {
    it(name, async () => {
      const tokens = new TokenManager({
        store: new MemoryTokenStore(),
        client: clientOf(emulator),
        rateLimit: { utilization },
      });
      await tokens.connect('1001', { ...emulator.issueGrant('1001'), expiresAt: Date.now() + 3_600_000 });
      const api = tokens.forOrg('1001', { maxRateLimitWait: 10_000 });
      // GET /webhooks: 5 a second. Seven at once get their turns spaced out over more than a second.
      const calls = Array.from({ length: 7 }, async () => (await api.fetch(`${emulator.baseURL}/webhooks`)).status);
      await sleep(50); // every turn reserved, the first request sent
      stall(600); // the second and third turns pass while the process is stalled
      expect(await Promise.all(calls)).to.deep.equal(Array(7).fill(200));
      if (expectation === 'none') expect(emulator.counters.rateLimited, "the emulator's 429s").to.equal(0);
      else expect(emulator.counters.rateLimited, "the emulator's 429s").to.be.above(0);
    });
  }
});
