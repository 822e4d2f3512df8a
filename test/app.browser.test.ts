import { expect } from 'chai';
import express from 'express';
import type { Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { TokenManager } from 'passport-samsara';
import type { SamsaraAppLogEntry } from 'passport-samsara/app';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { MOUNT, createHost, type Account } from '../example/host.js';
import { closeServer, launchChromium, listenLocal, screenshot } from './support/browser.js';

describe('the Samsara app in a real browser, mounted in the example host', function () {
  this.timeout(60_000);
  let emulator: SamsaraEmulator;
  let server: Server;
  let hostURL: string;
  let base: string;
  let accounts: Map<string, Account>;
  const logged: SamsaraAppLogEntry[] = [];
  let browser: Browser;
  let page: Page;
  /** A page on another port of the same host: same-site (SameSite=Lax cookies go along), another origin. */
  let attacker: Server;
  let attackerBase: string;

  before(async () => {
    emulator = await startSamsaraEmulator();
    const host = createHost({ tokens: new TokenManager({ client: emulator }), log: (entry) => logged.push(entry) });
    accounts = host.accounts;
    ({ server, url: hostURL } = await listenLocal(host.app));
    base = `${hostURL}${MOUNT}`;
    const evil = express();
    evil.get('/', (_req, res) => {
      res.send(
        `<form id="f" method="post" action="${base}/disconnect"></form><script>document.getElementById('f').submit()</script>`,
      );
    });
    evil.get('/fetch', (_req, res) => {
      res.send(
        `<script>fetch(${JSON.stringify(`${base}/disconnect`)}, { method: 'POST', mode: 'no-cors', credentials: 'include' }).finally(() => { document.title = 'sent'; })</script>`,
      );
    });
    // Samsara's marketplace, as far as a Direct Install goes: a link to the app's install URL.
    evil.get('/marketplace', (_req, res) => {
      res.send(`<a id="install" href="${base}/auth/samsara">Install</a>`);
    });
    ({ server: attacker, url: attackerBase } = await listenLocal(evil));
    browser = await launchChromium();
  });
  after(async () => {
    // before() may have stopped half-way.
    await (browser as Browser | undefined)?.close();
    await closeServer(server);
    await closeServer(attacker);
    await (emulator as SamsaraEmulator | undefined)?.stop();
  });
  beforeEach(async () => {
    page = await (await browser.newContext({ viewport: { width: 900, height: 600 } })).newPage();
  });
  afterEach(() => page.context().close());

  async function connect(): Promise<void> {
    await page.goto(`${base}/`);
    await page.click('#connect');
    await page.waitForURL(`${emulator.baseURL}/oauth2/authorize?**`);
    await page.click('#allow');
    await page.waitForURL(`${base}/`);
  }

  it('connects through the consent page, shows the grant, pages the vehicles with Next and Back', async () => {
    await connect();
    expect(await page.textContent('#org'))
      .to.include("Charlie's Dining Services")
      .and.include('1001');
    expect(await page.textContent('#region')).to.include(new URL(emulator.baseURL).host);
    expect(await page.textContent('#expires')).to.match(/^in (59|60) minutes$/);
    expect(await page.textContent('#refreshed')).to.match(/ago$/);
    expect(await page.textContent('#scopes')).to.not.equal('none reported');
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => c.name)).to.deep.equal(['samsara.integrations.samsara.sid']);
    expect(cookies[0]).to.include({ httpOnly: true, sameSite: 'Lax' });
    // The host's verify wrote the organization into its own table.
    expect(accounts.get('1001')).to.include({ name: "Charlie's Dining Services", plan: 'trial' });
    await screenshot(page, 'home-connected');

    await page.click('#vehicles-link');
    await page.waitForURL(`${base}/vehicles`);
    expect(await page.locator('#vehicles tbody tr').count()).to.equal(50);
    expect(await page.textContent('#vehicles caption')).to.equal('Vehicles 1–50 (page 1)');
    expect(await page.textContent('#vehicles')).to.include('Fleet Truck #1');
    expect(await page.locator('#back').count()).to.equal(0);
    await screenshot(page, 'vehicles');

    await page.click('#next');
    await page.waitForURL(`${base}/vehicles?after=**`);
    expect(await page.textContent('#vehicles caption')).to.equal('Vehicles 51–100 (page 2)');
    expect(await page.textContent('#vehicles tbody tr:first-child td:first-child')).to.equal('Fleet Truck #51');
    await page.click('#next');
    expect(await page.textContent('#vehicles caption')).to.equal('Vehicles 101–150 (page 3)');
    await page.click('#back');
    expect(await page.textContent('#vehicles caption')).to.equal('Vehicles 51–100 (page 2)');
    await screenshot(page, 'vehicles-page-2');
    await page.click('#back');
    await page.waitForURL(`${base}/vehicles`);
    expect(await page.textContent('#vehicles caption')).to.equal('Vehicles 1–50 (page 1)');

    // A page of the host calls Samsara for the organization signed in through the app.
    await page.goto(`${hostURL}/fleet-summary`);
    const summary = JSON.parse((await page.textContent('body')) ?? '') as { vehicles: string[]; plan: string };
    expect(summary.plan).to.equal('trial');
    expect(summary.vehicles).to.have.length(5);
  });

  it('shows a readable page, with the next step, when the organization denies access', async () => {
    await page.goto(`${base}/`);
    await page.click('#connect');
    const answer = page.waitForResponse((r) => r.url().startsWith(`${base}/auth/samsara/callback`));
    await page.click('#deny');
    expect((await answer).status()).to.equal(403);
    expect(await page.getAttribute('#failure', 'data-kind')).to.equal('denied');
    expect(await page.textContent('h1')).to.equal('Access was not granted');
    expect(await page.getAttribute('#next', 'href')).to.equal(`${MOUNT}/auth/samsara`);
    expect(logged.at(-1)).to.include({ kind: 'denied', status: 403 });
    await screenshot(page, 'consent-denied');
  });

  it('still loads a page when the access token expired since the last one: one refresh', async () => {
    await connect();
    const refreshes = emulator.counters.grants.refresh_token;
    emulator.expireAccessTokens('1001');
    await page.goto(`${base}/vehicles`);
    expect(await page.locator('#vehicles tbody tr').count()).to.equal(50);
    await page.goto(`${base}/`);
    expect(await page.textContent('#refreshed')).to.match(/ago$/);
    expect(emulator.counters.grants.refresh_token).to.equal(refreshes + 1);
    await screenshot(page, 'after-refresh');
  });

  it('disconnects: the emulator records a revocation, and Connect is offered again', async () => {
    await connect();
    const revocations = emulator.counters.revocations;
    await page.click('#disconnect');
    await page.waitForURL(`${base}/?disconnected=1`);
    expect(await page.locator('#connect').count()).to.equal(1);
    expect(await page.textContent('#disconnected')).to.include('revoked');
    // Every grant the app held for the organization (earlier tests' sign-ins left retired ones).
    expect(emulator.counters.revocations).to.be.greaterThan(revocations);
    expect(emulator.activeGrants('1001')).to.equal(0);
    await screenshot(page, 'disconnected');

    // Signed out: the vehicles page sends the browser back to Connect.
    await page.goto(`${base}/vehicles`);
    await page.waitForURL(`${base}/`);
    expect(await page.locator('#connect').count()).to.equal(1);
  });

  it('refuses a Disconnect posted by a page on another origin of the same site: 403, the grant live, still signed in', async () => {
    await connect();
    const revocations = emulator.counters.revocations;
    const live = emulator.activeGrants('1001');

    const refused = page.waitForResponse(`${base}/disconnect`);
    await page.goto(`${attackerBase}/`);
    expect((await refused).status()).to.equal(403);
    expect(await page.getAttribute('#failure', 'data-kind')).to.equal('cross-site');
    await page.goto(`${attackerBase}/fetch`);
    await page.waitForFunction('document.title === "sent"');

    expect(emulator.counters.revocations).to.equal(revocations);
    expect(emulator.activeGrants('1001')).to.equal(live);
    await page.goto(`${base}/`);
    expect(await page.textContent('#org')).to.include('1001');
    await page.click('#disconnect');
    await page.waitForURL(`${base}/?disconnected=1`);
    expect(await page.locator('#connect').count()).to.equal(1);
  });

  it('works as the Direct Install URL: an install started elsewhere, with no session yet, ends signed in', async () => {
    await page.goto(`${attackerBase}/marketplace`);
    await page.click('#install');
    await page.waitForURL(`${emulator.baseURL}/oauth2/authorize?**`);
    await page.click('#allow');
    await page.waitForURL(`${base}/`);
    expect(await page.textContent('#org')).to.include('1001');
  });

  it('reads on a phone: no sideways scrolling on the home and vehicles pages', async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    await connect();
    const overflow = (): Promise<boolean> =>
      page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth');
    expect(await overflow()).to.equal(false);
    await screenshot(page, 'phone-home');
    await page.click('#vehicles-link');
    expect(await page.locator('#vehicles tbody tr').count()).to.equal(50);
    expect(await overflow()).to.equal(false);
    await screenshot(page, 'phone-vehicles');
  });
});
