// `npm run test:unit`: the suite's files that need no Redis, Postgres, Chromium, packed tarball or
// child process, found by what each compiled test file requires, its test/support helpers followed
// (so a new file is sorted without being listed here). Everything else runs in `npm test`.
const { readFileSync, readdirSync } = require('node:fs');
const { dirname, join, resolve } = require('node:path');

const base = require('./.mocharc.json');
const TESTS = join(__dirname, 'build', 'test');
/** Requires that put a test outside the fast subset: a server, a browser, a process or a pack. */
const SLOW = [
  /^ioredis\d*$/,
  /^pg$/,
  /^postgres$/,
  /^playwright-core$/,
  /^(node:)?child_process$/,
  /\/support\/(packed|example-process|fleet-worker)\.js$/,
];
/** Files that need none of those but take seconds by design: the emulator's fuzzing. */
const LONG = new Set(['emulator.fuzz.test.js']);

/** Whether `file` (compiled JS) or a helper of its reaches one of the SLOW requires. */
function slow(file, seen = new Set()) {
  if (seen.has(file)) return false;
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  for (const [, request] of source.matchAll(/require\("([^"]+)"\)/g)) {
    if (SLOW.some((pattern) => pattern.test(request))) return true;
    if (request.startsWith('.') && slow(resolve(dirname(file), request), seen)) return true;
  }
  return false;
}

const spec = readdirSync(TESTS)
  .filter((name) => name.endsWith('.test.js') && !LONG.has(name))
  .map((name) => join(TESTS, name))
  .filter((file) => !slow(file));

module.exports = { ...base, spec };
