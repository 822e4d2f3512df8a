import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { consumerProject, installedVersion } from './support/packed.js';

const run = promisify(execFile);

/**
 * The mounted app imports `express` itself, so it runs on the host's Express only in a project
 * that installed Express 4: the packed package, `express@4` and `express-session` in a project of
 * their own (npm checks the peer range there, without --legacy-peer-deps). The script mounts the
 * app in an Express 4 host and walks it over real HTTP against the emulator, as a browser would.
 */
const SCRIPT = `const assert = require('node:assert');
const path = require('node:path');
const express = require('express');
const { TokenManager } = require('passport-samsara');
const { createSamsaraApp } = require('passport-samsara/app');
const { startSamsaraEmulator } = require('passport-samsara/testing');

(async () => {
  const seen = { express: require('express/package.json').version };
  // The app's own require('express') is the project's Express 4, not a copy of its own.
  const appDir = path.dirname(require.resolve('passport-samsara/app'));
  seen.appExpress = require(require.resolve('express/package.json', { paths: [appDir] })).version;
  const emulator = await startSamsaraEmulator({ autoApprove: true });
  const tokens = new TokenManager({ client: emulator });
  const host = express();
  host.use('/integrations/samsara', createSamsaraApp({ tokens, log: () => {}, brand: { name: 'Host 4' } }));
  host.get('/', (req, res) => res.send('the host'));
  const server = host.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = 'http://127.0.0.1:' + server.address().port + '/integrations/samsara';
  const jar = new Map();
  const get = async (url, init = {}) => {
    const headers = { ...(init.headers || {}), cookie: [...jar].map(([k, v]) => k + '=' + v).join('; ') };
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, value] = pair.split('=');
      jar.set(name, value);
    }
    return res;
  };
  const start = await get(base + '/auth/samsara');
  seen.start = start.status;
  const approved = await fetch(start.headers.get('location'), { redirect: 'manual' });
  const callback = await get(approved.headers.get('location'));
  seen.callback = [callback.status, callback.headers.get('location')];
  const home = await (await get(base + '/')).text();
  seen.connected = home.includes('id="status">Connected') && home.includes("Charlie&#39;s Dining Services") && home.includes('Host 4');
  const vehicles = await (await get(base + '/vehicles')).text();
  seen.rows = (vehicles.match(/<tr>/g) || []).length - 1;
  seen.confirm = (await get(base + '/disconnect')).status;
  seen.crossSite = (await get(base + '/disconnect', { method: 'POST', headers: { 'sec-fetch-site': 'cross-site' } })).status;
  const disconnected = await get(base + '/disconnect', { method: 'POST', headers: { origin: new URL(base).origin } });
  seen.disconnect = [disconnected.status, disconnected.headers.get('location')];
  seen.activeGrants = emulator.activeGrants('1001');
  seen.favicon = (await get(base + '/favicon.ico')).status;
  seen.hostRoute = await (await get(new URL(base).origin + '/')).text();
  server.close();
  server.closeAllConnections();
  await emulator.stop();
  console.log(JSON.stringify(seen));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
`;

describe('the mounted app on Express 4, in a project that installed express@4 and the packed package', function () {
  this.timeout(180_000);
  let dir: string;
  let remove: () => void;
  const express4 = installedVersion('express4');

  before(async () => {
    ({ dir, remove } = await consumerProject('express4-host', [
      `express@${express4}`,
      `express-session@${installedVersion('express-session')}`,
    ]));
  });
  after(() => remove?.());

  it('installs without --legacy-peer-deps, then connects, lists vehicles, asks before Disconnect and disconnects', async () => {
    writeFileSync(join(dir, 'walk.cjs'), SCRIPT);
    const { stdout } = await run(process.execPath, ['walk.cjs'], { cwd: dir });
    const seen = JSON.parse(stdout) as Record<string, unknown>;
    expect(seen).to.deep.equal({
      express: express4,
      appExpress: express4,
      start: 302,
      callback: [303, '/integrations/samsara/'],
      connected: true,
      rows: 50,
      confirm: 200,
      crossSite: 403,
      disconnect: [303, '/integrations/samsara/?disconnected=1'],
      activeGrants: 0,
      favicon: 200,
      hostRoute: 'the host',
    });
    expect(express4).to.match(/^4\./);
  });
});
