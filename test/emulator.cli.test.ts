import { expect } from 'chai';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EMULATOR_CLIENT_ID, EMULATOR_CLIENT_SECRET } from 'passport-samsara/testing';

// The shipped bin, found the way a consumer's tooling finds it: through the package's own manifest.
const packageRoot = dirname(require.resolve('passport-samsara/package.json'));
const manifest = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const bin = join(packageRoot, manifest.bin['samsara-emulator']);

function start(args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [bin, ...args], { env: { ...process.env, PORT: '', ...env } });
}

/** Everything the command printed up to and including the line that names the client secret. */
async function banner(child: ChildProcessWithoutNullStreams): Promise<string> {
  let out = '';
  for await (const chunk of child.stdout) {
    out += String(chunk);
    if (out.includes('SAMSARA_CLIENT_SECRET=')) return out;
  }
  throw new Error(`the emulator exited before printing its settings: ${out}`);
}

async function exitOf(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

describe('Samsara emulator: the samsara-emulator command', () => {
  it('starts with the given options, prints url, client id and secret, and stops cleanly on SIGTERM', async () => {
    const child = start(['--port', '0', '--auto-approve', '--access-token-ttl', '120']);
    try {
      const printed = await banner(child);
      const url = /SAMSARA_BASE_URL=(http:\/\/127\.0\.0\.1:\d+)/.exec(printed)?.[1] as string;
      expect(url).to.be.a('string');
      expect(printed)
        .to.include(`SAMSARA_CLIENT_ID=${EMULATOR_CLIENT_ID}`)
        .and.include(`SAMSARA_CLIENT_SECRET=${EMULATOR_CLIENT_SECRET}`);

      const redirect = 'http://127.0.0.1:9/cb';
      const approved = await fetch(
        `${url}/oauth2/authorize?client_id=${EMULATOR_CLIENT_ID}&response_type=code&redirect_uri=${encodeURIComponent(redirect)}`,
        { redirect: 'manual' },
      );
      const code = new URL(approved.headers.get('location') as string).searchParams.get('code') as string;
      const tokens = await fetch(`${url}/oauth2/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${EMULATOR_CLIENT_ID}:${EMULATOR_CLIENT_SECRET}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect }),
      });
      expect(((await tokens.json()) as { expires_in: number }).expires_in).to.equal(120);

      child.kill('SIGTERM');
      expect(await exitOf(child)).to.equal(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('takes the port from PORT and stops on SIGINT, with a keep-alive connection open', async () => {
    const probe = start(['--port', '0']);
    const port = /:(\d+)\n/.exec(await banner(probe))?.[1] as string;
    probe.kill('SIGINT');
    expect(await exitOf(probe)).to.equal(0);

    const child = start([], { PORT: port });
    try {
      expect(await banner(child)).to.include(`http://127.0.0.1:${port}`);
      const consent = await fetch(
        `http://127.0.0.1:${port}/oauth2/authorize?client_id=${EMULATOR_CLIENT_ID}&response_type=code&redirect_uri=http://localhost/cb`,
      );
      expect(await consent.text()).to.include('id="allow"');
      child.kill('SIGINT');
      expect(await exitOf(child)).to.equal(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('warns on stderr when bound to a host that is not loopback, and only then', async () => {
    for (const [host, warned] of [
      ['0.0.0.0', true],
      ['127.0.0.1', false],
    ] as const) {
      const child = start(['--port', '0', '--host', host]);
      let err = '';
      child.stderr.on('data', (chunk) => (err += String(chunk)));
      try {
        await banner(child);
        if (warned) expect(err).to.match(/not a loopback address: anyone who can reach it can approve/);
        else expect(err).to.equal('');
        child.kill('SIGTERM');
        expect(await exitOf(child)).to.equal(0);
      } finally {
        child.kill('SIGKILL');
      }
    }
  });

  it('refuses a bad option with usage and exit code 2', async () => {
    const child = start(['--port', 'eighty']);
    let err = '';
    child.stderr.on('data', (chunk) => (err += String(chunk)));
    expect(await exitOf(child)).to.equal(2);
    expect(err).to.include('--port must be a whole number').and.include('Usage: samsara-emulator');
  });
});
