import { expect } from 'chai';
import { request, Agent } from 'node:http';
import { startSamsaraEmulator, type EmulatorCounters, type SamsaraEmulator } from 'passport-samsara/testing';
import { REDIRECT, api, authorize, codeFor, postForm } from './support/raw-oauth.js';

/** Resolves to the error a request ended with, or fails the test if it got an answer. */
async function failure(pending: Promise<unknown>): Promise<unknown> {
  return pending.then(
    (answer) => expect.fail(`expected no answer, got ${JSON.stringify(answer)}`),
    (err: unknown) => err,
  );
}

describe('Samsara emulator: faults, latency, counters and stop()', () => {
  let emulator: SamsaraEmulator;

  beforeEach(async () => {
    emulator = await startSamsaraEmulator({ autoApprove: true });
  });
  afterEach(() => emulator.stop());

  const refresh = (refreshToken: string) =>
    postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: refreshToken });

  describe('faults', () => {
    it('answers a scripted status, body, content type and headers for the next N requests, then behaves', async () => {
      const { refreshToken, accessToken } = emulator.issueGrant();
      emulator.injectFault('token', { type: 'status', status: 503, body: 'no healthy upstream' }, 2);
      emulator.injectFault('api', {
        type: 'status',
        status: 429,
        body: '{"message":"slow down","requestId":"r"}',
        contentType: 'application/json',
        headers: { 'retry-after': '0.5' },
      });
      for (let i = 0; i < 2; i++) {
        const res = await refresh(refreshToken);
        expect([res.status, res.body, res.headers.get('content-type')]).to.deep.equal([
          503,
          'no healthy upstream',
          'text/plain',
        ]);
      }
      expect(emulator.grantStatus(refreshToken), 'faulted requests are not processed').to.equal('active');
      expect((await refresh(refreshToken)).status).to.equal(200);

      const limited = await api(emulator, '/me', accessToken);
      expect([limited.status, limited.body.message, limited.headers.get('retry-after')]).to.deep.equal([
        429,
        'slow down',
        '0.5',
      ]);
      expect(emulator.counters.rateLimited, 'a scripted answer is no outcome of the emulator').to.equal(0);
      expect((await api(emulator, '/me', accessToken)).status).to.equal(200);
    });

    it('queues faults first in, first out, per endpoint; clearFaults() drops them all', async () => {
      emulator.injectFault('revoke', { type: 'status', status: 500 });
      emulator.injectFault('revoke', { type: 'status', status: 502 }, 2);
      emulator.injectFault('api', { type: 'status', status: 503 });
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await postForm(emulator, '/oauth2/revoke', { token: 'x' })).status);
      expect(statuses).to.deep.equal([500, 502, 502, 200]);
      emulator.injectFault('authorize', { type: 'status', status: 500 }, 3);
      emulator.clearFaults();
      expect((await authorize(emulator, {})).status).to.equal(302);
      expect(
        (await api(emulator, '/me', emulator.issueGrant().accessToken)).status,
        'the api fault was cleared too',
      ).to.equal(200);
    });

    it('applies api faults to /me and /fleet/*, and authorize faults instead of the redirect', async () => {
      emulator.injectFault('api', { type: 'status', status: 500, body: 'Internal Server Error' }, 2);
      const token = emulator.issueGrant().accessToken;
      expect(
        (await fetch(`${emulator.baseURL}/me`, { headers: { authorization: `Bearer ${token}` } })).status,
      ).to.equal(500);
      expect(
        (await fetch(`${emulator.baseURL}/fleet/vehicles`, { headers: { authorization: `Bearer ${token}` } })).status,
      ).to.equal(500);
      emulator.injectFault('authorize', {
        type: 'status',
        status: 503,
        body: '<h1>Down for maintenance</h1>',
        contentType: 'text/html',
      });
      const down = await authorize(emulator, { state: 's' });
      expect([down.status, down.headers.get('location'), await down.text()]).to.deep.equal([
        503,
        null,
        '<h1>Down for maintenance</h1>',
      ]);
    });

    it('drops the connection without processing', async () => {
      const grant = emulator.issueGrant();
      emulator.injectFault('token', { type: 'drop' });
      expect(await failure(refresh(grant.refreshToken))).to.be.instanceOf(TypeError);
      expect(emulator.grantStatus(grant.refreshToken)).to.equal('active');
      emulator.injectFault('revoke', { type: 'drop' });
      expect(await failure(postForm(emulator, '/oauth2/revoke', { token: grant.refreshToken }))).to.be.instanceOf(
        TypeError,
      );
      expect(emulator.grantStatus(grant.refreshToken)).to.equal('active');
      expect(emulator.counters.tokenRequests).to.equal(1);
      expect(emulator.counters.revocations).to.equal(1);
    });

    it('drop-after-grant rotates the refresh token though the client saw only a network error', async () => {
      const grant = emulator.issueGrant();
      emulator.injectFault('token', { type: 'drop-after-grant' });
      expect(await failure(refresh(grant.refreshToken))).to.be.instanceOf(TypeError);
      expect(emulator.grantStatus(grant.refreshToken)).to.equal('rotated');
      expect(emulator.counters.tokensIssued).to.equal(1);
      // The natural retry with the token the client still holds now fails for good.
      const retry = await refresh(grant.refreshToken);
      expect(retry.body.error).to.equal('invalid_grant');
      expect(emulator.activeGrants(), 'the grant itself is alive, under a token nobody received').to.equal(1);
    });

    it('drop-after-grant consumes a code, so the retry of the exchange revokes the grant', async () => {
      const code = await codeFor(emulator);
      emulator.injectFault('token', { type: 'drop-after-grant' });
      expect(
        await failure(
          postForm(emulator, '/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT }),
        ),
      ).to.be.instanceOf(TypeError);
      expect(emulator.activeGrants()).to.equal(1);
      const retry = await postForm(emulator, '/oauth2/token', {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
      });
      expect(retry.body.error).to.equal('invalid_grant');
      expect(emulator.activeGrants()).to.equal(0);
    });

    it('drop-after-grant on revoke revokes, then hangs up', async () => {
      const grant = emulator.issueGrant();
      emulator.injectFault('revoke', { type: 'drop-after-grant' });
      expect(await failure(postForm(emulator, '/oauth2/revoke', { token: grant.refreshToken }))).to.be.instanceOf(
        TypeError,
      );
      expect(emulator.grantStatus(grant.refreshToken)).to.equal('revoked');
    });

    it('delays a request by ms, then processes it', async () => {
      const grant = emulator.issueGrant();
      emulator.injectFault('token', { type: 'delay', ms: 150 });
      const started = performance.now();
      const res = await refresh(grant.refreshToken);
      expect(performance.now() - started).to.be.at.least(145);
      expect(res.status).to.equal(200);
      const quick = performance.now();
      await refresh(res.body.refresh_token);
      expect(performance.now() - quick, 'only the next request').to.be.below(100);
    });

    it('hangs a request until stop(), which neither waits for it nor for idle keep-alive sockets', async () => {
      await api(emulator, '/me', emulator.issueGrant().accessToken); // leaves an idle keep-alive socket in fetch's pool
      const agent = new Agent({ keepAlive: true });
      await new Promise<void>((resolve, reject) => {
        request(`${emulator.baseURL}/me`, { agent }, (res) => res.resume().on('end', resolve))
          .on('error', reject)
          .end();
      });
      emulator.injectFault('api', { type: 'hang' });
      const hanging = failure(api(emulator, '/me', emulator.issueGrant().accessToken));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const stopping = performance.now();
      const stopped = emulator.stop();
      expect(emulator.stop(), 'idempotent').to.equal(stopped);
      await stopped;
      expect(performance.now() - stopping).to.be.below(500);
      expect(await hanging).to.be.instanceOf(TypeError);
      expect(await failure(fetch(`${emulator.baseURL}/me`))).to.be.instanceOf(TypeError);
      agent.destroy();
    });

    it('stop() cancels a pending delay: the delayed request is never processed', async () => {
      const grant = emulator.issueGrant();
      emulator.injectFault('token', { type: 'delay', ms: 150 });
      const pending = failure(refresh(grant.refreshToken));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await emulator.stop();
      await pending;
      await new Promise((resolve) => setTimeout(resolve, 200)); // past the end of the delay
      expect(emulator.grantStatus(grant.refreshToken)).to.equal('active');
      expect(emulator.counters.tokensIssued).to.equal(0);
    });
  });

  it('adds latency to every response, faulted ones included, and can change it while running', async () => {
    emulator.configure({ latency: 80 });
    const timed = async (pending: Promise<{ status: number }>) => {
      const started = performance.now();
      const { status } = await pending;
      return { status, ms: performance.now() - started };
    };
    const token = emulator.issueGrant().accessToken;
    expect((await timed(api(emulator, '/me', token))).ms).to.be.at.least(75);
    expect((await timed(postForm(emulator, '/oauth2/revoke', { token: 'x' }))).ms).to.be.at.least(75);
    emulator.injectFault('api', { type: 'status', status: 502 });
    const faulted = await timed(fetch(`${emulator.baseURL}/me`, { headers: { authorization: `Bearer ${token}` } }));
    expect(faulted.status).to.equal(502);
    expect(faulted.ms).to.be.at.least(75);
    emulator.configure({ latency: 0 });
    expect((await timed(api(emulator, '/me', token))).ms).to.be.below(60);
    expect(() => emulator.configure({ latency: -1 })).to.throw(RangeError);
  });

  it('serves 50 requests held by latency at once without a MaxListenersExceededWarning', async () => {
    emulator.configure({ latency: 30 });
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const token = emulator.issueGrant().accessToken;
      const answers = await Promise.all(Array.from({ length: 50 }, () => api(emulator, '/me', token)));
      expect(answers.map((a) => a.status)).to.deep.equal(Array.from({ length: 50 }, () => 200));
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).to.deep.equal([]);
  });

  it('counts every request and outcome, faulted requests as requests only, and resets', async () => {
    const grant = emulator.issueGrant();
    const code = await codeFor(emulator);
    await postForm(emulator, '/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT }); // issued
    await postForm(emulator, '/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT }); // invalid_grant
    const rotated = await refresh(grant.refreshToken); // issued
    await refresh(grant.refreshToken); // invalid_grant
    await postForm(emulator, '/oauth2/token', { grant_type: 'refresh_token', refresh_token: 'x' }, null); // invalid_client
    await postForm(emulator, '/oauth2/token', { grant_type: 'password' }); // unsupported_grant_type
    await postForm(emulator, '/oauth2/token', {}); // invalid_request
    emulator.injectFault('token', { type: 'status', status: 500 });
    await refresh('whatever'); // counted as a refresh request, no outcome
    await postForm(emulator, '/oauth2/revoke', { token: 'unknown' });
    await postForm(emulator, '/oauth2/revoke', {}); // invalid_request
    emulator.configure({ rateLimit: 1 });
    await api(emulator, '/me', rotated.body.access_token); // ok
    await api(emulator, '/fleet/vehicles', rotated.body.access_token); // 429
    await api(emulator, '/me'); // 401
    await fetch(`${emulator.baseURL}/fleet/unknown`); // 404, still an API call
    await fetch(`${emulator.baseURL}/`); // not an API call

    const expected: EmulatorCounters = {
      tokenRequests: 8,
      grants: { authorization_code: 2, refresh_token: 4 },
      tokensIssued: 2,
      invalidGrant: 2,
      invalidClient: 1,
      invalidRequest: 2,
      revocations: 2,
      apiCalls: 4,
      unauthorized: 1,
      forbidden: 0,
      rateLimited: 1,
      rateLimitedBy: { token: 1, organization: 0, endpoint: 0 },
      webhooks: { attempts: 0, delivered: 0, failed: 0 },
    };
    expect(emulator.counters).to.deep.equal(expected);
    emulator.resetCounters();
    expect(emulator.counters.tokenRequests).to.equal(0);
    expect(emulator.counters.grants).to.deep.equal({ authorization_code: 0, refresh_token: 0 });
    emulator.issueGrant();
    expect(emulator.counters.tokensIssued, 'issueGrant counts nothing').to.equal(0);
  });
});
