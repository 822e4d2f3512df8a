import { expect } from 'chai';
import express from 'express';
import type { Server } from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { TokenManager } from 'passport-samsara';
import type { SamsaraAppLogEntry } from 'passport-samsara/app';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { MOUNT, createHost, type Account } from '../example/host.js';
import { closeServer, launchChromium, listenLocal, screenshot } from './support/browser.js';

describe('the Samsara app in a real browser, mounted in a host with its own login (example/host.ts)', function () {
  this.timeout(60_000);
  let emulator: SamsaraEmulator;
  let tokens: TokenManager;
  let server: Server;
  let hostURL: string;
  let base: string;
  let accounts: Map<string, Account>;
  const logged: SamsaraAppLogEntry[] = [];
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** A page on another port of the same host: same-site (SameSite=Lax cookies go along), another origin. */
  let attacker: Server;
  let attackerBase: string;

  before(async () => {
    emulator = await startSamsaraEmulator();
    tokens = new TokenManager({ client: emulator });
    const host = createHost({ tokens, log: (entry) => logged.push(entry) });
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
        `<script>Promise.all([${JSON.stringify(`${base}/disconnect`)}, ${JSON.stringify(`${hostURL}/logout`)}].map((u) => fetch(u, { method: 'POST', mode: 'no-cors', credentials: 'include' }))).finally(() => { document.title = 'sent'; })</script>`,
      );
    });
    evil.get('/logout', (_req, res) => {
      res.send(
        `<form id="f" method="post" action="${hostURL}/logout"></form><script>document.getElementById('f').submit()</script>`,
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
    context = await browser.newContext({ viewport: { width: 900, height: 600 } });
    page = await context.newPage();
  });
  afterEach(() => context.close());

  /** Signs in to the host (its own login, nothing to do with Samsara) as one of its demo users. */
  async function logIn(on: Page, email: string): Promise<void> {
    await on.goto(`${hostURL}/login`);
    await on.selectOption('#email', email);
    await on.click('#sign-in');
    await on.waitForURL(`${hostURL}/`);
  }

  /** Connects Samsara for the signed-in user's account, through the emulator's consent page. */
  async function connect(on: Page = page): Promise<void> {
    await on.goto(`${base}/`);
    await on.click('#connect');
    await on.waitForURL(`${emulator.baseURL}/oauth2/authorize?**`);
    await on.click('#allow');
    await on.waitForURL(`${base}/`);
  }

  /** Disconnect, confirmed on its own page. */
  async function disconnect(on: Page = page): Promise<void> {
    await on.goto(`${base}/`);
    await on.click('#disconnect');
    await on.waitForURL(`${base}/disconnect`);
    await on.click('#confirm-disconnect');
    await on.waitForURL(`${base}/?disconnected=1`);
  }

  it('connects through the consent page, says Connected, pages the vehicles with Next and Back', async () => {
    await logIn(page, 'dana@charlies.test');
    await connect();
    expect(await page.textContent('#status')).to.equal('Connected');
    expect(await page.textContent('#org'))
      .to.include("Charlie's Dining Services")
      .and.include('1001');
    expect(await page.textContent('#since')).to.match(/ago$/);
    // The grant's details wait behind the disclosure.
    expect(await page.isVisible('#expires')).to.equal(false);
    await page.click('#details summary');
    expect(await page.textContent('#region')).to.include(new URL(emulator.baseURL).host);
    expect(await page.textContent('#expires')).to.match(/^in (59|60) minutes$/);
    expect(await page.textContent('#refreshed')).to.match(/ago$/);
    expect(await page.textContent('#scopes')).to.not.equal('none reported');
    // Your product's brand, and no cookie of the app's own: the host's session carries everything.
    expect(await page.textContent('header')).to.include('Acme Dispatch');
    expect(await page.evaluate('document.querySelector(".logo").naturalWidth')).to.be.greaterThan(0);
    expect((await context.cookies()).map((c) => c.name)).to.deep.equal(['acme.sid']);
    expect(accounts.get('charlies')?.samsara).to.include({ orgId: '1001', status: 'connected' });
    await page.click('#details summary');
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

    // A page of the host calls Samsara for the signed-in user's account.
    await page.goto(`${hostURL}/fleet-summary`);
    const summary = JSON.parse((await page.textContent('body')) ?? '') as { vehicles: string[]; orgId: string };
    expect(summary.orgId).to.equal('1001');
    expect(summary.vehicles).to.have.length(5);
    await disconnect();
  });

  it('a host with its own login connects, disconnects and reconnects an organization, for the whole account', async () => {
    const dana = page;
    await logIn(dana, 'dana@charlies.test');
    await connect(dana);
    const firstGrant = (await tokens.credentials('1001')).refreshToken;

    // A colleague in another browser: signed in to the same account, connected without connecting.
    const samContext = await browser.newContext({ viewport: { width: 900, height: 600 } });
    const sam = await samContext.newPage();
    try {
      await logIn(sam, 'sam@charlies.test');
      await sam.goto(`${base}/`);
      expect(await sam.textContent('#status')).to.equal('Connected');
      expect(await sam.textContent('#org')).to.include("Charlie's Dining Services");
      // Another company's user sees nothing of it.
      const leeContext = await browser.newContext();
      const lee = await leeContext.newPage();
      await logIn(lee, 'lee@acme-freight.test');
      await lee.goto(`${base}/`);
      expect(await lee.locator('#connect').count()).to.equal(1);
      await leeContext.close();

      // Dana disconnects, after the confirmation page: revoked at Samsara, the account told, Dana still signed in.
      await dana.goto(`${base}/`);
      await dana.click('#disconnect');
      await dana.waitForURL(`${base}/disconnect`);
      expect(await dana.textContent('main')).to.include('for everyone at your company');
      await screenshot(dana, 'disconnect-confirm');
      await dana.click('#confirm-disconnect');
      await dana.waitForURL(`${base}/?disconnected=1`);
      expect(await dana.textContent('#disconnected')).to.include('revoked');
      expect(emulator.grantStatus(firstGrant)).to.equal('revoked');
      expect(emulator.activeGrants('1001')).to.equal(0);
      expect(accounts.get('charlies')?.samsara?.status).to.equal('disconnected');
      await dana.goto(`${hostURL}/`);
      expect(await dana.textContent('#who')).to.include('Dana');
      expect(await dana.textContent('#samsara-status')).to.include('disconnected');
      await sam.goto(`${base}/`);
      expect(await sam.locator('#connect').count(), 'the colleague sees it disconnected').to.equal(1);

      // Reconnect: a new grant, the account connected again, the colleague served again.
      await connect(dana);
      const secondGrant = (await tokens.credentials('1001')).refreshToken;
      expect(secondGrant).to.not.equal(firstGrant);
      expect(emulator.grantStatus(secondGrant)).to.equal('active');
      expect(accounts.get('charlies')?.samsara?.status).to.equal('connected');
      await sam.goto(`${hostURL}/fleet-summary`);
      expect((JSON.parse((await sam.textContent('body')) ?? '') as { vehicles: string[] }).vehicles).to.have.length(5);
      await disconnect(dana);
    } finally {
      await samContext.close();
    }
  });

  it('sends a visitor who is not signed in to the host to its sign-in page, and connects nothing', async () => {
    const tokenRequests = emulator.counters.tokenRequests;
    const answer = page.waitForResponse(`${base}/auth/samsara`);
    await page.goto(`${attackerBase}/marketplace`);
    await page.click('#install');
    expect((await answer).status()).to.equal(401);
    expect(await page.getAttribute('#failure', 'data-kind')).to.equal('signed-out');
    expect(await page.getAttribute('#next', 'href')).to.equal('/login');
    expect(emulator.counters.tokenRequests).to.equal(tokenRequests);
    await page.click('#next');
    await page.waitForURL(`${hostURL}/login`);
  });

  it('works as the Direct Install URL for a signed-in admin: an install started elsewhere ends connected', async () => {
    await logIn(page, 'dana@charlies.test');
    await page.goto(`${attackerBase}/marketplace`);
    await page.click('#install');
    await page.waitForURL(`${emulator.baseURL}/oauth2/authorize?**`);
    await page.click('#allow');
    await page.waitForURL(`${base}/`);
    expect(await page.textContent('#org')).to.include('1001');
    await disconnect();
  });

  it('shows a readable page, with the next step, when the organization denies access', async () => {
    await logIn(page, 'dana@charlies.test');
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
    await logIn(page, 'dana@charlies.test');
    await connect();
    const refreshes = emulator.counters.grants.refresh_token;
    emulator.expireAccessTokens('1001');
    await page.goto(`${base}/vehicles`);
    expect(await page.locator('#vehicles tbody tr').count()).to.equal(50);
    await page.goto(`${base}/`);
    expect(await page.textContent('#refreshed')).to.match(/ago$/);
    expect(emulator.counters.grants.refresh_token).to.equal(refreshes + 1);
    await disconnect();
  });

  it('refuses a Disconnect or a sign-out posted by a page on another origin of the same site: 403, nothing changed', async () => {
    await logIn(page, 'dana@charlies.test');
    await connect();
    const revocations = emulator.counters.revocations;
    const live = emulator.activeGrants('1001');

    const refused = page.waitForResponse(`${base}/disconnect`);
    await page.goto(`${attackerBase}/`);
    expect((await refused).status()).to.equal(403);
    expect(await page.getAttribute('#failure', 'data-kind')).to.equal('cross-site');
    const refusedLogout = page.waitForResponse(`${hostURL}/logout`);
    await page.goto(`${attackerBase}/logout`);
    expect((await refusedLogout).status()).to.equal(403);
    await page.goto(`${attackerBase}/fetch`);
    await page.waitForFunction('document.title === "sent"');

    expect(emulator.counters.revocations).to.equal(revocations);
    expect(emulator.activeGrants('1001')).to.equal(live);
    await page.goto(`${hostURL}/`);
    expect(await page.textContent('#who'), 'still signed in to the host').to.include('Dana');
    await page.goto(`${base}/`);
    expect(await page.textContent('#org')).to.include('1001');
    await disconnect();
    expect(await page.locator('#connect').count()).to.equal(1);
  });

  it('reads on a phone: no sideways scrolling on the home and vehicles pages', async () => {
    await page.setViewportSize({ width: 375, height: 740 });
    await logIn(page, 'dana@charlies.test');
    await connect();
    const overflow = (): Promise<boolean> =>
      page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth');
    expect(await overflow()).to.equal(false);
    await screenshot(page, 'phone-home');
    await page.click('#vehicles-link');
    expect(await page.locator('#vehicles tbody tr').count()).to.equal(50);
    expect(await overflow()).to.equal(false);
    await screenshot(page, 'phone-vehicles');
    await disconnect();
  });
});
