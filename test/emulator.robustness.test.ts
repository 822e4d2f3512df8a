import { expect } from 'chai';
import { connect } from 'node:net';
import { startSamsaraEmulator, type EmulatorEndpoint, type SamsaraEmulator } from 'passport-samsara/testing';
import { api } from './support/raw-oauth.js';

/** One raw request line and headers, `Connection: close`; the answer's status and (unchunked) body. */
function raw(
  emulator: SamsaraEmulator,
  requestLine: string,
  headers: string[] = [],
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(emulator.baseURL);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const [head, rest] = [text.slice(0, split), text.slice(split + 4)];
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
      const body = /transfer-encoding: chunked/i.test(head)
        ? rest.replace(/^[0-9a-f]+\r\n/i, '').replace(/\r\n0\r\n\r\n$/, '')
        : rest;
      resolve({ status, body });
    });
    socket.end(`${[requestLine, 'Host: emulator', 'Connection: close', ...headers].join('\r\n')}\r\n\r\n`);
  });
}

describe('Samsara emulator: odd requests and failures of its own', () => {
  let emulator: SamsaraEmulator;
  let clockBroken: boolean;

  beforeEach(async () => {
    clockBroken = false;
    emulator = await startSamsaraEmulator({
      clock: () => {
        if (clockBroken) throw new Error('the clock broke');
        return Date.now();
      },
    });
  });
  afterEach(() => emulator.stop());

  it('answers 400 to a request target that names no path, 404 to // (a path), both {message, requestId}, and serves on', async () => {
    const cases: Array<[string, number]> = [
      ['GET // HTTP/1.1', 404],
      ['GET /// HTTP/1.1', 404],
      ['OPTIONS * HTTP/1.1', 400],
      ['POST http:// HTTP/1.1', 400],
      ['GET ftp://x/me HTTP/1.1', 400],
    ];
    for (const [line, status] of cases) {
      const res = await raw(emulator, line);
      expect(res.status, line).to.equal(status);
      expect(Object.keys(JSON.parse(res.body)).sort(), line).to.deep.equal(['message', 'requestId']);
    }
    expect((await api(emulator, '/me', emulator.issueGrant().accessToken)).status).to.equal(200);
  });

  it('takes the path of an absolute-form target, as proxies send it, and of //-paths as paths', async () => {
    const { accessToken } = emulator.issueGrant();
    const absolute = await raw(emulator, 'GET http://api.samsara.com/me HTTP/1.1', [
      `Authorization: Bearer ${accessToken}`,
    ]);
    expect(absolute.status).to.equal(200);
    expect(JSON.parse(absolute.body).data.id).to.equal('1001');
    const doubled = await raw(emulator, 'GET //me HTTP/1.1', [`Authorization: Bearer ${accessToken}`]);
    expect(doubled.status, 'the path //me, not a URL on host "me"').to.equal(404);
    expect(JSON.parse(doubled.body).message).to.include('//me');
  });

  it('answers a failure of its own with a JSON 500 {message, requestId}, then serves on', async () => {
    const { accessToken } = emulator.issueGrant();
    clockBroken = true;
    const res = await fetch(`${emulator.baseURL}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(res.status).to.equal(500);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    const body = (await res.json()) as { message: string; requestId: string };
    expect(Object.keys(body).sort()).to.deep.equal(['message', 'requestId']);
    expect(body.message).to.equal('Emulator bug: the clock broke');
    clockBroken = false;
    expect((await api(emulator, '/me', accessToken)).status).to.equal(200);
  });

  it('answers a fault it cannot send (a header value with a newline) with a JSON 500', async () => {
    emulator.injectFault('api', { type: 'status', status: 503, headers: { 'x-bad': 'a\nb' } });
    const res = await fetch(`${emulator.baseURL}/me`);
    expect(res.status).to.equal(500);
    expect(((await res.json()) as { message: string }).message).to.match(/^Emulator bug: /);
    expect((await api(emulator, '/me', emulator.issueGrant().accessToken)).status).to.equal(200);
  });

  it('refuses unusable options at start, and an endpoint name it does not have', async () => {
    let err = await startSamsaraEmulator({
      clients: [{ clientId: 'c', clientSecret: 's', redirectUris: ['not a url'] }],
    }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RangeError).with.property('message').that.includes('not a url');
    err = await startSamsaraEmulator({ codeTtl: 0 }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RangeError);
    for (const name of ['toString', '__proto__', 'me']) {
      expect(() => emulator.injectFault(name as EmulatorEndpoint, { type: 'drop' }), name).to.throw(RangeError);
    }
  });
});
