import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './support/packed.js';

const run = promisify(execFile);

/** GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a Markdown file's headings (outside code blocks). */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = /^#+ (.+)$/.exec(line);
    if (!fenced && heading) anchors.add(anchorOf(heading[1]));
  }
  return anchors;
}

/** Every link and image target of a Markdown text, outside code blocks. */
function linksOf(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```$/gm, '');
  return [...prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map((match) => match[1]);
}

describe('the packed tarball and the README it ships', function () {
  this.timeout(60_000);
  let shipped: Set<string>;
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

  before(async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
    const [pack] = JSON.parse(stdout) as [{ files: { path: string }[] }];
    shipped = new Set(pack.files.map((file) => file.path));
  });

  it('ships the pages and pictures of docs/', () => {
    expect([...shipped]).to.include.members(['README.md', 'docs/screenshots/home-connected.png', 'docs/tokens.md']);
  });

  it('points every relative link of README at a file in the tarball, and every anchor at a heading there', () => {
    const broken: string[] = [];
    const relative = linksOf(readme).filter((target) => !/^[a-z]+:/.test(target));
    expect(relative.length).to.be.above(20);
    for (const target of relative) {
      const [path, anchor] = target.split('#') as [string, string | undefined];
      const file = path === '' ? 'README.md' : posix.normalize(path);
      if (!shipped.has(file)) {
        broken.push(`${target}: ${file} is not in the tarball`);
        continue;
      }
      if (anchor !== undefined && !anchorsOf(readFileSync(join(ROOT, file), 'utf8')).has(anchor)) {
        broken.push(`${target}: no heading #${anchor} in ${file}`);
      }
    }
    expect(broken).to.deep.equal([]);
  });

  it('links absolutely to what it does not ship (the repository)', () => {
    const absolute = linksOf(readme).filter((target) => target.startsWith('https://github.com/'));
    expect(
      absolute.every((target) => target.startsWith('https://github.com/passport-samsara/passport-samsara/')),
    ).to.equal(true);
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))).to.include.keys(
      'repository',
      'homepage',
      'bugs',
    );
  });
});
