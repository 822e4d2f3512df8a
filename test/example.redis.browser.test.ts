import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { generateSealingKey } from 'passport-samsara';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { launchChromium, screenshot } from './support/browser.js';
import { startExample, type ExampleProcess } from './support/example-process.js';
import { startRedis, type RedisServer } from './support/redis.js';

describe('two example server processes behind one Redis, in a real browser', function () {
  this.timeout(60_000);
  let emulator: SamsaraEmulator;
  let redis: RedisServer;
  let first: ExampleProcess;
  let second: ExampleProcess;
  let browser: Browser;
  let page: Page;
  const secrets = {
    SESSION_SECRET: 'two processes share this session secret',
    SAMSARA_SEALING_KEYS: generateSealingKey(),
  };

  before(async () => {
    emulator = await startSamsaraEmulator();
    redis = await startRedis();
    const env = {
      ...secrets,
      REDIS_URL: `redis://${redis.host}:${redis.port}`,
      SAMSARA_CLIENT_ID: emulator.clientID,
      SAMSARA_CLIENT_SECRET: emulator.clientSecret,
      SAMSARA_BASE_URL: emulator.baseURL,
    };
    [first, second] = await Promise.all([startExample(env), startExample(env)]);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 900, height: 600 } });
  });
  after(async () => {
    // before() may have stopped half-way.
    await (browser as Browser | undefined)?.close();
    for (const server of [first as ExampleProcess | undefined, second as ExampleProcess | undefined]) {
      await server?.stop();
    }
    await (redis as RedisServer | undefined)?.stop();
    await (emulator as SamsaraEmulator | undefined)?.stop();
  });

  it('signs in through one process, loads vehicles and disconnects through the other', async () => {
    await page.goto(`${first.url}/`);
    await page.click('#connect');
    await page.click('#allow');
    await page.waitForURL(`${first.url}/`);
    expect(await page.textContent('#org')).to.include('1001');

    // Cookies belong to the host, not the port: the second process gets the same session, from Redis,
    // and the organization's tokens, from Redis too.
    await page.goto(`${second.url}/vehicles`);
    expect(await page.locator('#vehicles tbody tr').count()).to.equal(50);
    await screenshot(page, 'two-processes-vehicles');
    await page.goto(`${second.url}/`);
    await page.click('#disconnect');
    await page.waitForURL(`${second.url}/disconnect`);
    await page.click('#confirm-disconnect');
    await page.waitForURL(`${second.url}/?disconnected=1`);
    expect(emulator.activeGrants('1001')).to.equal(0);
    await page.goto(`${first.url}/`);
    expect(await page.locator('#connect').count()).to.equal(1);

    for (const server of [first, second]) {
      expect(server.output()).to.include('Tokens: Redis (REDIS_URL)').and.include('Sessions: the token Redis');
      expect(server.output()).to.not.include(secrets.SESSION_SECRET).and.not.include(emulator.clientSecret);
      expect(server.output()).to.not.include(secrets.SAMSARA_SEALING_KEYS.split(':')[1]);
    }
  });
});
