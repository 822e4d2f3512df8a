import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshot } from './support/browser.js';
import { startExample, type ExampleProcess } from './support/example-process.js';
import { ROOT as root, consumerProject, installedVersion } from './support/packed.js';

const run = promisify(execFile);

describe('the example host in a project that installed the packed tarball, in a real browser', function () {
  this.timeout(180_000);
  let scratch: string;
  let remove: () => void;
  let host: ExampleProcess;
  let browser: Browser;
  let page: Page;

  before(async () => {
    // The optional peers a host that mounts the app installs itself, and passport for its own login.
    const peers = ['express', 'express-session', 'ioredis', 'passport'].map(
      (name) => `${name}@${installedVersion(name)}`,
    );
    ({ dir: scratch, remove } = await consumerProject('host', peers));
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
    remove?.();
  });

  it('mounts passport-samsara/app at /integrations/samsara: connect, the host’s accounts, a host page calling Samsara', async () => {
    const resolved = await run(process.execPath, ['-p', "require.resolve('passport-samsara/app')"], { cwd: scratch });
    expect(resolved.stdout.trim()).to.equal(
      join(scratch, 'node_modules', 'passport-samsara', 'dist', 'app', 'index.js'),
    );

    await page.goto(`${host.url}/`);
    await page.waitForURL(`${host.url}/login`);
    await page.selectOption('#email', 'dana@charlies.test');
    await page.click('#sign-in');
    await page.waitForURL(`${host.url}/`);
    await page.click('#integration');
    await page.waitForURL(`${host.url}/integrations/samsara/`);
    await page.click('#connect');
    await page.click('#allow');
    await page.waitForURL(`${host.url}/integrations/samsara/`);
    expect(await page.textContent('#org')).to.include("Charlie's Dining Services");
    await screenshot(page, 'consumer-mounted');

    await page.goto(`${host.url}/accounts`);
    const accounts = JSON.parse((await page.textContent('body')) ?? '') as Array<{
      id: string;
      samsara?: { orgId: string; status: string };
    }>;
    expect(accounts.find((a) => a.id === 'charlies')?.samsara).to.include({ orgId: '1001', status: 'connected' });
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
