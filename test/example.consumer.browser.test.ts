import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshot } from './support/browser.js';
import { startExample, type ExampleProcess } from './support/example-process.js';

const run = promisify(execFile);
const root = resolve(__dirname, '..', '..');
/** The versions this repository tests with, so the install comes from npm's cache. */
const version = (name: string): string =>
  (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

describe('the example host in a project that installed the packed tarball, in a real browser', function () {
  this.timeout(180_000);
  let scratch: string;
  let host: ExampleProcess;
  let browser: Browser;
  let page: Page;

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'passport-samsara-host-'));
    await run('npm', ['pack', '--pack-destination', scratch], { cwd: root });
    const tarball = join(scratch, readdirSync(scratch).find((f) => f.endsWith('.tgz')) as string);
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'host', private: true, version: '1.0.0' }));
    // The optional peers a host that mounts the app installs itself.
    const peers = ['express', 'express-session', 'ioredis'].map((name) => `${name}@${version(name)}`);
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, ...peers], { cwd: scratch });
    // The host example as compiled, beside the consumer's node_modules: it resolves passport-samsara there.
    for (const file of ['host.js', 'backends.js'])
      copyFileSync(join(root, 'build', 'example', file), join(scratch, file));
    host = await startExample({}, { script: join(scratch, 'host.js'), cwd: scratch });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 900, height: 600 } });
  });
  after(async () => {
    // before() may have stopped half-way.
    await (browser as Browser | undefined)?.close();
    await (host as ExampleProcess | undefined)?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('mounts passport-samsara/app at /integrations/samsara: connect, the host’s accounts, a host page calling Samsara', async () => {
    const resolved = await run(process.execPath, ['-p', "require.resolve('passport-samsara/app')"], { cwd: scratch });
    expect(resolved.stdout.trim()).to.equal(
      join(scratch, 'node_modules', 'passport-samsara', 'dist', 'app', 'index.js'),
    );

    await page.goto(`${host.url}/`);
    await page.click('#integration');
    await page.waitForURL(`${host.url}/integrations/samsara/`);
    await page.click('#connect');
    await page.click('#allow');
    await page.waitForURL(`${host.url}/integrations/samsara/`);
    expect(await page.textContent('#org')).to.include("Charlie's Dining Services");
    await screenshot(page, 'consumer-mounted');

    await page.goto(`${host.url}/accounts`);
    const accounts = JSON.parse((await page.textContent('body')) ?? '') as Array<{ orgId: string; plan: string }>;
    expect(accounts).to.have.length(1);
    expect(accounts[0]).to.include({ orgId: '1001', plan: 'trial' });
    await page.goto(`${host.url}/fleet-summary`);
    const summary = JSON.parse((await page.textContent('body')) ?? '') as { vehicles: string[] };
    expect(summary.vehicles).to.deep.equal([
      'Fleet Truck #1',
      'Fleet Truck #2',
      'Fleet Truck #3',
      'Fleet Truck #4',
      'Fleet Truck #5',
    ]);
  });
});
