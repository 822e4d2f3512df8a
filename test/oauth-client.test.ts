import { expect } from 'chai';
import { OAuthClient } from 'passport-samsara';
import { BadResponseError, RevokeFailedError, TokenRejectedError, UpstreamError } from 'passport-samsara/errors';
import { json, startRecordingServer } from './support/recording-server.js';

describe('OAuthClient: what the token endpoint receives and what it may answer', () => {
  let server: Awaited<ReturnType<typeof startRecordingServer>>;
  let client: OAuthClient;
  const good = { access_token: 'at-1', token_type: 'bearer', expires_in: 3600, refresh_token: 'rt-1', scope: 'read' };

  beforeEach(async () => {
    server = await startRecordingServer();
    client = new OAuthClient({
      clientID: 'my-client',
      clientSecret: 's3cr3t-value',
      baseURL: server.url,
      timeout: 300,
    });
  });
  afterEach(() => server.stop());

  it('sends the code exchange form-encoded with HTTP Basic only, redirect_uri included', async () => {
    server.reply(json(200, good));
    await client.exchangeCode('the-code', { redirectURI: 'http://127.0.0.1:1234/auth/samsara/callback' });
    const [req] = server.requests;
    expect(req.method).to.equal('POST');
    expect(req.path).to.equal('/oauth2/token');
    expect(req.headers.authorization).to.equal(`Basic ${Buffer.from('my-client:s3cr3t-value').toString('base64')}`);
    expect(req.headers['content-type']).to.equal('application/x-www-form-urlencoded');
    expect(req.body).to.equal(
      'grant_type=authorization_code&code=the-code&redirect_uri=http%3A%2F%2F127.0.0.1%3A1234%2Fauth%2Fsamsara%2Fcallback',
    );
    expect(req.body).to.not.include('s3cr3t');
    expect(req.body).to.not.include('client_id');
  });

  it('sends a refresh as grant_type=refresh_token and computes expiresAt at receipt', async () => {
    server.reply(json(200, good));
    const before = Date.now();
    const set = await client.refresh('old-refresh');
    expect(server.requests[0].body).to.equal('grant_type=refresh_token&refresh_token=old-refresh');
    expect(set).to.include({ accessToken: 'at-1', refreshToken: 'rt-1', scope: 'read' });
    expect(set.expiresAt).to.be.within(before + 3600_000, Date.now() + 3600_000);
  });

  it("turns an RFC 6749 error body into its own TokenRejectedError, never passport's", async () => {
    server.reply(json(400, { error: 'invalid_grant', error_description: 'refresh token already used' }));
    const err = await client.refresh('dead').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TokenRejectedError);
    expect(err).to.include({
      code: 'SAMSARA_TOKEN_REJECTED',
      oauthError: 'invalid_grant',
      description: 'refresh token already used',
      upstreamStatus: 400,
      transient: false,
    });
    server.reply(json(503, { error: 'temporarily_unavailable', error_description: 'line one\r\nX-Forged: yes' }));
    const busy = await client.exchangeCode('c').catch((e: unknown) => e);
    expect(busy).to.include({
      oauthError: 'temporarily_unavailable',
      transient: true,
      status: 502,
      upstreamStatus: 503,
    });
    expect((busy as Error).message).to.not.match(/[\r\n]/);
  });

  const broken: Array<[string, (res: import('node:http').ServerResponse) => void, RegExp]> = [
    [
      'a non-JSON body',
      (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hi</html>'),
      /not a JSON object/,
    ],
    ['a body without access_token', json(200, { ...good, access_token: undefined }), /without an access_token/],
    ['a body without expires_in', json(200, { ...good, expires_in: undefined }), /expires_in/],
    ['a negative expires_in', json(200, { ...good, expires_in: -5 }), /expires_in/],
    ['a body without refresh_token', json(200, { ...good, refresh_token: undefined }), /refresh_token/],
    ['a non-Bearer token', json(200, { ...good, token_type: 'mac' }), /not Bearer/],
    [
      'an access token with CR/LF',
      json(200, { ...good, access_token: 'abc\r\nX-Forged: 1' }),
      /access_token that is not an RFC 6750 token/,
    ],
    [
      'a refresh token with a space',
      json(200, { ...good, refresh_token: 'two words' }),
      /refresh_token that is not an RFC 6750 token/,
    ],
    [
      'an access token of 5000 characters',
      json(200, { ...good, access_token: 'a'.repeat(5000) }),
      /at most 4096 characters/,
    ],
    ['an expires_in of 1e308', json(200, { ...good, expires_in: 1e308 }), /expires_in between 0 and 31622400/],
    ['an expires_in of Infinity (as a string)', json(200, { ...good, expires_in: 'Infinity' }), /expires_in/],
    ['an expires_in that is not a number', json(200, { ...good, expires_in: 'soon' }), /expires_in/],
    ['an oversized body', json(200, { ...good, padding: 'x'.repeat(70 * 1024) }), /limit is 65536 bytes/],
    [
      'an oversized chunked body',
      (res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        for (let i = 0; i < 80; i++) res.write('x'.repeat(1024));
        res.end();
      },
      /limit is 65536 bytes/,
    ],
  ];
  for (const [what, reply, message] of broken) {
    it(`rejects ${what} with BadResponseError (SAMSARA_BAD_RESPONSE) and no token in the message`, async () => {
      server.reply(reply);
      const err = (await client.exchangeCode('c').catch((e: unknown) => e)) as BadResponseError;
      expect(err).to.be.instanceOf(BadResponseError);
      expect(err.code).to.equal('SAMSARA_BAD_RESPONSE');
      expect(err.status).to.equal(502);
      expect(err.message).to.match(message);
      expect(err.message).to.not.include('at-1').and.not.include('rt-1');
      expect(err.message)
        .to.not.match(/[\r\n]/)
        .and.not.include('Forged')
        .and.not.include('two words');
    });
  }

  it('keeps its connection to the token endpoint alive: refreshes after the first open none', async () => {
    server.reply(json(200, good));
    for (let i = 0; i < 3; i++) await client.refresh(`r-${i}`);
    await client.revoke('r-3');
    expect(server.requests).to.have.length(4);
    expect(new Set(server.requests.map((r) => r.remotePort)).size).to.equal(1);
  });

  it('reports a 5xx without an OAuth body as SAMSARA_UPSTREAM', async () => {
    server.reply((res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream connect error'));
    const err = (await client.refresh('r').catch((e: unknown) => e)) as UpstreamError;
    expect(err).to.be.instanceOf(UpstreamError);
    expect(err).to.include({ code: 'SAMSARA_UPSTREAM', status: 502, upstreamStatus: 503 });
  });

  it('gives up after the timeout with SAMSARA_TIMEOUT', async () => {
    server.reply(() => undefined);
    const started = Date.now();
    const err = (await client.refresh('r').catch((e: unknown) => e)) as UpstreamError;
    expect(err).to.be.instanceOf(UpstreamError);
    expect(err).to.include({ code: 'SAMSARA_TIMEOUT', status: 504 });
    expect(Date.now() - started).to.be.below(2_000);
  });

  it('reports an unreachable endpoint as SAMSARA_UNREACHABLE', async () => {
    await server.stop();
    const err = (await client.refresh('r').catch((e: unknown) => e)) as UpstreamError;
    expect(err).to.be.instanceOf(UpstreamError);
    expect(err.code).to.equal('SAMSARA_UNREACHABLE');
    expect(err.message).to.include('ECONNREFUSED');
  });

  it('revokes with token=<refresh token> and Basic auth, and reports a failed revoke', async () => {
    server.reply(json(200, {}));
    await client.revoke('rt-to-revoke');
    expect(server.requests[0].path).to.equal('/oauth2/revoke');
    expect(server.requests[0].body).to.equal('token=rt-to-revoke');
    expect(server.requests[0].headers.authorization).to.match(/^Basic /);
    server.reply(json(500, { error: 'server_error' }));
    const err = (await client.revoke('rt-secret-xyz').catch((e: unknown) => e)) as RevokeFailedError;
    expect(err).to.be.instanceOf(RevokeFailedError);
    expect(err).to.include({ code: 'SAMSARA_REVOKE_FAILED', status: 502 });
    expect(err.message).to.include('HTTP 500').and.include('server_error').and.not.include('rt-secret-xyz');
  });
});
