import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT as root, STRICT_NODENEXT, bin, consumerProject, installedVersion } from './support/packed.js';

const run = promisify(execFile);

describe('the packed package, as a consumer installs it', function () {
  this.timeout(180_000);
  let scratch: string;
  let tarball: string;
  let remove: () => void;

  before(async () => {
    // express and express-session: the optional peers passport-samsara/app needs.
    const peers = ['express', 'express-session'].map((name) => `${name}@${installedVersion(name)}`);
    ({ dir: scratch, tarball, remove } = await consumerProject('consumer', peers));
  });
  after(() => remove());

  it('ships dist with its .d.ts, the README, CHANGELOG and LICENSE, and no sources or tests', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').filter(Boolean);
    expect(files).to.include.members([
      'package/dist/index.js',
      'package/dist/index.d.ts',
      'package/dist/index.mjs',
      'package/dist/index.d.mts',
      'package/dist/testing/index.js',
      'package/dist/testing/index.d.ts',
      'package/dist/app/index.js',
      'package/dist/app/index.d.ts',
      'package/dist/user.js',
      'package/dist/user.d.ts',
      'package/README.md',
      'package/CHANGELOG.md',
      'package/LICENSE',
    ]);
    expect(
      files.filter(
        (f) =>
          /^package\/(lib|test|example|bench)\//.test(f) ||
          (f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.d.mts')),
      ),
    ).to.deep.equal([]);
  });

  it('passes publint and arethetypeswrong', async () => {
    const lint = await run(bin('publint'), [tarball]);
    expect(lint.stdout).to.include('All good');
    const attw = await run(bin('attw'), [tarball, '--format', 'json']).catch((err: { stdout: string }) => err);
    const report = JSON.parse(attw.stdout) as { analysis: { problems: unknown[] } };
    expect(report.analysis.problems).to.deep.equal([]);
  });

  it('works with require()', async () => {
    writeFileSync(
      join(scratch, 'use.cjs'),
      `const assert = require('node:assert');
const samsara = require('passport-samsara');
const strategy = new samsara.SamsaraStrategy({ clientID: 'id', clientSecret: 'secret' });
assert.strictEqual(strategy.name, 'samsara');
assert.strictEqual(samsara.Strategy, samsara.SamsaraStrategy);
assert.strictEqual(samsara.default, samsara.SamsaraStrategy);
assert.strictEqual(typeof samsara.TokenManager, 'function');
assert.strictEqual(typeof require('passport-samsara/testing').startSamsaraEmulator, 'function');
assert.strictEqual(typeof require('passport-samsara/store').runTokenStoreContract, 'function');
assert.strictEqual(typeof samsara.PostgresTokenStore, 'function');
assert.strictEqual(require('passport-samsara/errors').ReauthorizationRequiredError, samsara.ReauthorizationRequiredError);
assert.strictEqual(typeof require('passport-samsara/errors').StoreUnavailableError, 'function');
assert.strictEqual(typeof require('passport-samsara/rate-limit').MemoryRateLimiter, 'function');
assert.strictEqual(require('passport-samsara/webhooks').samsaraWebhooks, samsara.samsaraWebhooks);
assert.ok(require('passport-samsara/webhooks').SAMSARA_WEBHOOK_EVENT_TYPES.includes('VehicleCreated'));
const app = require('passport-samsara/app').createSamsaraApp({ tokens: new samsara.TokenManager({ client: { clientID: 'id', clientSecret: 'secret' } }), sessionSecret: 'a session secret', sealingKeys: samsara.generateSealingKey() });
assert.strictEqual(typeof app.loadSession, 'function');
assert.strictEqual(app.signedIn, app.loadSession);
console.log('cjs ok');`,
    );
    expect((await run('node', ['use.cjs'], { cwd: scratch })).stdout).to.equal('cjs ok\n');
  });

  it('works with import, default and named, and shares one instance with require()', async () => {
    writeFileSync(
      join(scratch, 'use.mjs'),
      `import assert from 'node:assert';
import { createRequire } from 'node:module';
import SamsaraStrategy, { SamsaraStrategy as Named, Strategy, TokenManager, ReauthorizationRequiredError } from 'passport-samsara';
import { startSamsaraEmulator } from 'passport-samsara/testing';
import { createSamsaraApp } from 'passport-samsara/app';
import { runTokenStoreContract } from 'passport-samsara/store';
assert.strictEqual(typeof runTokenStoreContract, 'function');
import { SamsaraError as FromErrors, StoreUnavailableError } from 'passport-samsara/errors';
import { RateLimits } from 'passport-samsara/rate-limit';
import { SAMSARA_WEBHOOK_VERSIONS } from 'passport-samsara/webhooks';
assert.ok(new StoreUnavailableError('down') instanceof FromErrors);
assert.strictEqual(typeof RateLimits, 'function');
assert.ok(SAMSARA_WEBHOOK_VERSIONS.length > 0);
assert.strictEqual(SamsaraStrategy, Named);
assert.strictEqual(Strategy, Named);
assert.strictEqual(typeof TokenManager, 'function');
assert.strictEqual(createRequire(import.meta.url)('passport-samsara').ReauthorizationRequiredError, ReauthorizationRequiredError);
const emulator = await startSamsaraEmulator();
const me = await fetch(emulator.baseURL + '/me');
assert.strictEqual(me.status, 401);
const server = createSamsaraApp({ tokens: new TokenManager({ client: emulator }), log: () => {} }).listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const home = await fetch('http://127.0.0.1:' + server.address().port + '/');
assert.strictEqual(home.status, 200);
assert.match(await home.text(), /Connect Samsara/);
server.close();
await emulator.stop();
console.log('esm ok');`,
    );
    expect((await run('node', ['use.mjs'], { cwd: scratch })).stdout).to.equal('esm ok\n');
  });

  it('type-checks a strict TypeScript consumer, CommonJS and ES module', async () => {
    const source = `import { SamsaraStrategy, TokenManager, samsara, type SamsaraProfile } from 'passport-samsara';
import { startSamsaraEmulator } from 'passport-samsara/testing';
import { createSamsaraApp, type SamsaraApp, type SamsaraAppOptions } from 'passport-samsara/app';
import { runTokenStoreContract, type ContractBackend, type TokenStore } from 'passport-samsara/store';
import { StoreUnavailableError, type SamsaraErrorOptions } from 'passport-samsara/errors';
import { MemoryRateLimiter, type RateLimiterBackend } from 'passport-samsara/rate-limit';
import { SAMSARA_WEBHOOK_EVENT_TYPES, type WebhookFailureContext } from 'passport-samsara/webhooks';
const errorOptions: SamsaraErrorOptions = { cause: new StoreUnavailableError('down') };
const backend: RateLimiterBackend = new MemoryRateLimiter();
const firstType: string | undefined = SAMSARA_WEBHOOK_EVENT_TYPES[0];
const failure: (context: WebhookFailureContext) => void = () => {};
void errorOptions;
void backend;
void firstType;
void failure;
const contract: (store: TokenStore) => Promise<ContractBackend> = async (store) => ({ stores: [store, store] });
void runTokenStoreContract;
void contract;
const options: SamsaraAppOptions = { sessionSecret: 'a session secret', verify: async (profile) => ({ name: profile.displayName }) };
const mounted: SamsaraApp = createSamsaraApp(options);
void mounted.loadSession;
const strategy = new SamsaraStrategy({ region: 'eu' }, async (accessToken, refreshToken, profile) => ({ orgId: profile.id, n: accessToken.length + refreshToken.length }));
const tokens: TokenManager = strategy.tokens;
const handler = samsara({ tokens });
const org: (p: SamsaraProfile) => string = (p) => p.organization.name;
void startSamsaraEmulator;
void handler;
void org;
`;
    writeFileSync(join(scratch, 'consumer.cts'), source);
    writeFileSync(
      join(scratch, 'consumer.mts'),
      `${source}import Default from 'passport-samsara';\nconst d: typeof SamsaraStrategy = Default;\nvoid d;\n`,
    );
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { ...STRICT_NODENEXT, typeRoots: [join(root, 'node_modules', '@types')] },
        files: ['consumer.cts', 'consumer.mts'],
      }),
    );
    const result = await run(bin('tsc'), ['-p', scratch]).catch((err: { stdout: string }) => err);
    expect(result.stdout).to.equal('');
  });
});
