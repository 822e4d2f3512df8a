/** `npm run bench`: every benchmark, printed as the Markdown that README's Performance section quotes. */
import { cpus } from 'node:os';
import { hotPath } from './hot-path.js';
import { stampede } from './stampede.js';

async function main(): Promise<void> {
  console.log(`Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}\n`);
  console.log(await hotPath());
  console.log();
  console.log(await stampede());
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
