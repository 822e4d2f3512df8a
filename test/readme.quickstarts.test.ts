import { expect } from 'chai';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { ROOT, STRICT_NODENEXT } from './support/packed.js';

/** Every TypeScript block of README, named by its section's heading (and a number past the first). */
function readmeBlocks(): Map<string, string> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = new Map<string, string>();
  let heading = 'top';
  for (const match of readme.matchAll(/^(#+) (.+)$|^```ts\n([\s\S]*?)\n```$/gm)) {
    if (match[2] !== undefined) heading = match[2].toLowerCase().replace(/[^a-z0-9]+/g, '-');
    else {
      let name = heading;
      for (let n = 2; blocks.has(name); n++) name = `${heading}-${n}`;
      blocks.set(name, match[3]);
    }
  }
  return blocks;
}

/** The blocks a page of docs/ marks `<!-- compiled: name -->`, by name. */
function markedBlocks(page: string): Map<string, string> {
  const text = readFileSync(join(ROOT, 'docs', page), 'utf8');
  const blocks = new Map<string, string>();
  for (const match of text.matchAll(/<!-- compiled: ([\w-]+) -->\n```ts\n([\s\S]*?)\n```/g)) {
    blocks.set(match[1], match[2]);
  }
  return blocks;
}

/**
 * Parsed declaration files (lib, @types, the package's own .d.ts), shared by every program the
 * test makes: each check then parses only its own file. The options are the same for all, so a
 * file parses the same way in each.
 */
const parsed = new Map<string, ts.SourceFile>();

/**
 * Type-checks `source` as the one file of a fresh strict `nodenext` ES module project inside the
 * package (so that `passport-samsara` resolves to its own exports, as a consumer's would) and
 * answers the diagnostics, as tsc prints them (empty: it compiles).
 */
function typeCheck(name: string, source: string): string {
  const dir = join(ROOT, 'build', 'readme-check', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'index.mts');
  writeFileSync(file, source);
  // skipLibCheck: the package's own .d.ts are checked in full by test/package.consumer.test.ts.
  const { options } = ts.convertCompilerOptionsFromJson({ ...STRICT_NODENEXT, skipLibCheck: true }, dir);
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, language, onError, shouldCreate) => {
    if (fileName === file) return read(fileName, language, onError, shouldCreate);
    const known = parsed.get(fileName) ?? read(fileName, language, onError, shouldCreate);
    if (known) parsed.set(fileName, known);
    return known;
  };
  const program = ts.createProgram([file], options, host);
  return ts.formatDiagnostics(ts.getPreEmitDiagnostics(program), {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => ROOT,
    getNewLine: () => '\n',
  });
}

describe("README's code, compiled in a strict nodenext project", function () {
  this.timeout(120_000);
  const blocks = readmeBlocks();

  it('finds every TypeScript block of README, the two quick starts among them', () => {
    expect([...blocks.keys()]).to.include.members([
      'quick-start-mount-the-samsara-app',
      'quick-start-wire-passport-yourself',
    ]);
    expect(blocks.size).to.be.at.least(6);
  });

  for (const [name, source] of blocks) {
    it(`the block under "${name}" type-checks`, () => {
      expect(typeCheck(name, source)).to.equal('');
    });
  }

  it("docs/express.md's quick start for an app with its own login type-checks (passport.authorize, samsara({ key }))", () => {
    const source = markedBlocks('express.md').get('own-login');
    expect(source).to.be.a('string');
    expect(typeCheck('own-login', source!)).to.equal('');
  });

  it("docs/entries.md's imports from the root and the subpaths type-check", () => {
    const source = markedBlocks('entries.md').get('entries');
    expect(source).to.be.a('string');
    expect(typeCheck('entries', source!)).to.equal('');
  });

  it("types req.user as the Samsara user only with import 'passport-samsara/user'", () => {
    const use = `import express from 'express';\nconst app = express();\napp.get('/', (req, res) => { res.send(req.user?.orgId.toUpperCase() ?? 'none'); });\n`;
    // With the opt-in, a verify's user must carry the organization: one without orgId does not compile.
    const mustCarry = `import { SamsaraStrategy } from 'passport-samsara';\n// @ts-expect-error: no orgId, no orgName\nnew SamsaraStrategy({ verify: async ({ profile }) => ({ name: profile.displayName }) });\n`;
    expect(typeCheck('user-opt-in', `import 'passport-samsara/user';\n${use}${mustCarry}`)).to.equal('');
    expect(typeCheck('user-without', `import 'passport-samsara';\n${use}`)).to.match(
      /error TS2339: Property 'orgId' does not exist on type 'User'/,
    );
  });
});
