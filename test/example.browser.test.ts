import { expect } from 'chai';
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { TokenManager } from 'passport-samsara';
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
  /** A page on another port of the same host: same-site (SameSite=Lax cookies go along), another origin. */
  let attacker: Server;
  let attackerBase: string;

  before(async () => {
    emulator = await startSamsaraEmulator();
    const parent = express();
    parent.get('/', (_req, res) => {
      res.send('the host app');
    });
    parent.use(
      '/samsara',
      createSamsaraApp({
        tokens: new TokenManager({ client: clientOf(emulator) }),
        verify: async (profile) => (profile.id === 'blocked' ? false : { plan: 'trial' }),
      }),
    );
    server = await new Promise((resolve) => {
      const s = parent.listen(0, '127.0.0.1', () => resolve(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/samsara`;
    const evil = express();
    evil.get('/', (_req, res) => {
      res.send(`<form id="f" method="post" action="${base}/logout"></form><script>document.getElementById('f').submit()</script>`);
    });
    evil.get('/fetch', (_req, res) => {
      res.send(`<script>fetch(${JSON.stringify(`${base}/logout`)}, { method: 'POST', mode: 'no-cors', credentials: 'include' }).then(() => { document.title = 'sent'; })</script>`);
    });
    attacker = await new Promise((resolve) => {
      const s = evil.listen(0, '127.0.0.1', () => resolve(s));
    });
    attackerBase = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
  });
  after(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    attacker?.closeAllConnections();
    await new Promise((r) => attacker?.close(r));
    await emulator?.stop();
  });
  beforeEach(async () => {
    page = await (await browser.newContext()).newPage();
  });
  afterEach(() => page.context().close());

  it('connects through the consent page, lists vehicles, and disconnects (revoking the grant)', async () => {
    await page.goto(`${base}/`);
    await page.click('#connect');
    await page.waitForURL(`${emulator.baseURL}/oauth2/authorize?**`);
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
    await page.waitForURL(`${emulator.baseURL}/oauth2/authorize?**`);
  });

  it('refuses a Disconnect posted by a page on another origin of the same site: 403, the grant live, still signed in', async () => {
    await page.goto(`${base}/`);
    await page.click('#connect');
    await page.click('#allow');
    await page.waitForURL(`${base}/`);
    const revocations = emulator.counters.revocations;
    const live = emulator.activeGrants('1001');

    const refused = page.waitForResponse(`${base}/logout`);
    await page.goto(`${attackerBase}/`);
    expect((await refused).status()).to.equal(403);
    await page.goto(`${attackerBase}/fetch`);
    await page.waitForFunction('document.title === "sent"');

    expect(emulator.counters.revocations).to.equal(revocations);
    expect(emulator.activeGrants('1001')).to.equal(live);
    await page.goto(`${base}/`);
    expect(await page.textContent('#org')).to.include('1001');
    await page.click('#disconnect');
    await page.waitForURL(`${base}/`);
    expect(await page.locator('#connect').count()).to.equal(1);
  });

  it('shows a failed sign-in when the organization denies access', async () => {
    await page.goto(`${base}/`);
    await page.click('#connect');
    await page.click('#deny');
    await page.waitForURL(`${base}/?signin=failed`);
    expect(await page.textContent('#error')).to.include('denied');
  });
});
