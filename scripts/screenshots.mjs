#!/usr/bin/env node
// The screenshots of README and docs/app.md, from the browser test rather than drawn by hand: builds, runs
// test/app.browser.test.ts (which saves PNGs under test-results/), then copies the ones they
// show into docs/screenshots/. Usage: npm run screenshots
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const shown = ['home-connected', 'vehicles'];
const sh = (command, args) => execFileSync(command, args, { cwd: root, stdio: 'inherit' });

sh('npm', ['run', 'build']);
sh('npm', ['run', 'build:all']);
sh('npx', ['mocha', '--no-config', '--exit', '--timeout', '60000', 'build/test/app.browser.test.js']);
mkdirSync(join(root, 'docs', 'screenshots'), { recursive: true });
for (const name of shown) {
  const target = join(root, 'docs', 'screenshots', `${name}.png`);
  copyFileSync(join(root, 'test-results', `${name}.png`), target);
  console.log(`docs/screenshots/${name}.png (${Math.round(statSync(target).size / 1024)} KiB)`);
}
