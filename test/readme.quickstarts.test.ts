import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, STRICT_NODENEXT, bin } from './support/packed.js';

const run = promisify(execFile);

/** The TypeScript blocks README marks `<!-- compiled: name -->`, by name. */
function readmeBlocks(): Map<string, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = new Map<string, string>();
  for (const match of readme.matchAll(/<!-- compiled: ([\w-]+) -->\n```ts\n([\s\S]*?)\n```/g)) {
    blocks.set(match[1], match[2]);
  }
  return blocks;
}

/**
 * Type-checks `source` as the one file of a fresh strict `nodenext` ES module project inside the
 * package (so that `passport-samsara` resolves to its own exports, as a consumer's would) and
 * answers tsc's diagnostics (empty: it compiles).
 */
async function typeCheck(name: string, source: string): Promise<string> {
  const dir = join(ROOT, 'build', 'readme-check', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.mts'), source);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      // skipLibCheck: the package's own .d.ts are checked in full by test/package.consumer.test.ts.
      compilerOptions: { ...STRICT_NODENEXT, skipLibCheck: true },
      files: ['index.mts'],
    }),
  );
  const result = await run(bin('tsc'), ['-p', dir]).catch((err: { stdout: string }) => err);
  return result.stdout;
}

describe("README's quick starts, compiled in a strict nodenext project", function () {
  this.timeout(120_000);
  const blocks = readmeBlocks();

  it('finds the blocks README marks as compiled', () => {
    expect([...blocks.keys()]).to.deep.equal(['quick-start', 'own-login', 'app']);
  });

  for (const [name, what] of [
    ['quick-start', 'the quick start (Sign out and Disconnect, req.user.orgId without a cast)'],
    ['own-login', 'the quick start for an app with its own login (passport.authorize, samsara({ key }))'],
    ['app', 'the mounted app'],
  ] as const) {
    it(`${what} type-checks`, async () => {
      const source = blocks.get(name);
      expect(source, name).to.be.a('string');
      expect(await typeCheck(name, source!)).to.equal('');
    });
  }

  it("types req.user as the Samsara user only with import 'passport-samsara/user'", async () => {
    const use = `import express from 'express';\nconst app = express();\napp.get('/', (req, res) => { res.send(req.user?.orgId.toUpperCase() ?? 'none'); });\n`;
    // With the opt-in, a verify's user must carry the organization: one without orgId does not compile.
    const mustCarry = `import { SamsaraStrategy } from 'passport-samsara';\n// @ts-expect-error: no orgId, no orgName\nnew SamsaraStrategy({ verify: async ({ profile }) => ({ name: profile.displayName }) });\n`;
    expect(await typeCheck('user-opt-in', `import 'passport-samsara/user';\n${use}${mustCarry}`)).to.equal('');
    expect(await typeCheck('user-without', `import 'passport-samsara';\n${use}`)).to.match(
      /error TS2339: Property 'orgId' does not exist on type 'User'/,
    );
  });
});
