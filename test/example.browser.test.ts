import { expect } from 'chai';
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { createSamsaraApp } from '../example/app.js';
import { clientOf } from './support/grants.js';

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('the example app in a real browser, mounted inside another app', function () {
  this.timeout(60_000);
  let emulator: SamsaraEmulator;
  let server: Server;
  let base: string;
  let browser: Browser;
  let page: Page;

  before(async () => {
    emulator = await startSamsaraEmulator();
    const parent = express();
    parent.get('/', (_req, res) => {
      res.send('the host app');
    });
    parent.use(
      '/samsara',
      createSamsaraApp({
        strategy: { ...clientOf(emulator) },
        verify: async (profile) => (profile.id === 'blocked' ? false : { plan: 'trial' }),
      }),
    );
    server = await new Promise((resolve) => {
      const s = parent.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/samsara`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
  });
  after(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await emulator?.stop();
  });
  beforeEach(async () => {
    page = await (await browser.newContext()).newPage();
  });
  afterEach(() => page.context().close());

  it('connects through the consent page, lists vehicles, and disconnects (revoking the grant)', async () => {
    await page.goto(`${base}/`);
    await page.click('#connect');
    await page.waitForURL(`${emulator.url}/oauth2/authorize?**`);
    await page.click('#allow');
    await page.waitForURL(`${base}/`);
    expect(await page.textContent('#org')).to.include("Charlie's Dining Services").and.include('1001');
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => c.name)).to.deep.equal(['connect.sid']);

    await page.click('#vehicles-link');
    await page.waitForURL(`${base}/vehicles`);
    expect(await page.locator('#vehicles tr').count()).to.equal(51); // header + 50
    expect(await page.textContent('#vehicles')).to.include('Fleet Truck #1');

    await page.goto(`${base}/`);
    await page.click('#disconnect');
    await page.waitForURL(`${base}/`);
    expect(await page.locator('#connect').count()).to.equal(1);
    expect(emulator.activeGrants('1001')).to.equal(0);
    expect(emulator.counters.revocations).to.equal(1);

    // Signed out: the vehicles page sends the browser to sign in again.
    await page.goto(`${base}/vehicles`);
    await page.waitForURL(`${emulator.url}/oauth2/authorize?**`);
  });

  it('shows a failed sign-in when the organization denies access', async () => {
    await page.goto(`${base}/`);
    await page.click('#connect');
    await page.click('#deny');
    await page.waitForURL(`${base}/?signin=failed`);
    expect(await page.textContent('#error')).to.include('denied');
  });
});
