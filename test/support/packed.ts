import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root (the package being packed). */
export const ROOT = resolve(__dirname, '..', '..', '..');

/** The compiler options of a fresh strict TypeScript project on Node's module resolution. */
export const STRICT_NODENEXT = {
  strict: true,
  noEmit: true,
  module: 'nodenext',
  moduleResolution: 'nodenext',
  target: 'es2022',
  types: ['node'],
} as const;

/** A program of the repository's node_modules/.bin. */
export const bin = (name: string): string => join(ROOT, 'node_modules', '.bin', name);

/** The version of a package this repository installed, so that a project's install comes from npm's cache. */
export function installedVersion(name: string): string {
  return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
    .version;
}

// Scratch directories a mocha run that dies must not leave behind.
const scratches = new Set<string>();
process.on('exit', () => {
  for (const dir of scratches) rmSync(dir, { recursive: true, force: true });
});

let packing: Promise<string> | undefined;

/**
 * The package as `npm pack` makes it, once per test run: the dist that `npm test` built (scripts
 * off, so packing does not rebuild dist under the other tests' feet).
 */
export function packedTarball(): Promise<string> {
  packing ??= (async () => {
    const dir = scratch('passport-samsara-pack-');
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT });
    return join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz')) as string);
  })();
  return packing;
}

/**
 * A project of its own that installed the packed package and `dependencies` (`name@version`), as a
 * consumer does: npm checks the package's peer ranges against them. Removed by `remove()`.
 */
export async function consumerProject(
  name: string,
  dependencies: string[],
): Promise<{ dir: string; tarball: string; remove(): void }> {
  const tarball = await packedTarball();
  const dir = scratch(`passport-samsara-${name}-`);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, version: '1.0.0' }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, ...dependencies], { cwd: dir });
  return {
    dir,
    tarball,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
      scratches.delete(dir);
    },
  };
}

function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratches.add(dir);
  return dir;
}
