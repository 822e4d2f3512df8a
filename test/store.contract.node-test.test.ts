import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

describe('runTokenStoreContract under node:test', function () {
  this.timeout(60_000);

  it('registers the whole contract with node:test, and it passes on MemoryTokenStore', async () => {
    const { stdout } = await run(process.execPath, [
      '--test',
      '--test-reporter=tap',
      join(__dirname, 'support', 'node-test-contract.js'),
    ]);
    expect(stdout).to.match(/^# pass (\d+)$/m);
    const passed = Number(/^# pass (\d+)$/m.exec(stdout)![1]);
    expect(passed, 'every test of the contract').to.be.at.least(40);
    expect(stdout).to.match(/^# fail 0$/m);
    expect(stdout).to.include('TokenStore contract: MemoryTokenStore under node:test');
  });
});
