import { expect } from 'chai';
import request from 'supertest';
import { MemoryTokenStore, OAuthClient, SamsaraStrategy, TokenManager } from 'passport-samsara';
import { ProfileError, RevokeFailedError, TokenRejectedError } from 'passport-samsara/errors';
import { createSamsaraApp, type SamsaraAppLogEntry } from 'passport-samsara/app';
import { startSamsaraEmulator } from 'passport-samsara/testing';
import { signIn } from './support/app-client.js';
import { closeServer, listenLocal } from './support/browser.js';
import { json, startRecordingServer } from './support/recording-server.js';

/** A token as long as Samsara's, with the characters a URL encodes. */
const TOKEN = `${'A1b2'.repeat(20)}+/x=`;

/** `text` carries neither `secret` nor a 16-character piece of it (a truncated echo would). */
function expectNoneOf(text: string, secret: string): void {
  expect(text).to.not.include(secret);
  expect(text).to.not.include(encodeURIComponent(secret));
  for (let i = 0; i + 16 <= secret.length; i += 8) expect(text).to.not.include(secret.slice(i, i + 16));
}

describe('upstream text that repeats what was sent is redacted: errors, messages, logs', () => {
  let server: Awaited<ReturnType<typeof startRecordingServer>>;
  let client: OAuthClient;

  beforeEach(async () => {
    server = await startRecordingServer();
    client = new OAuthClient({
      clientID: 'my-client',
      clientSecret: 's3cr3t-value-1234',
      baseURL: server.url,
      timeout: 1_000,
    });
  });
  afterEach(() => server.stop());

  it("the token endpoint's error_description and error repeating the refresh token: TokenRejectedError carries neither", async () => {
    // Long enough that the 200-character cut would leave a piece of the token if redaction came after.
    const description = `${'x'.repeat(150)} the refresh token ${TOKEN} was already used`;
    server.reply(json(400, { error: `invalid_grant ${TOKEN}`, error_description: description }));
    const err = (await client.refresh(TOKEN).catch((e: unknown) => e)) as TokenRejectedError;
    expect(err).to.be.instanceOf(TokenRejectedError);
    for (const text of [err.message, err.description ?? '', err.oauthError, JSON.stringify(err)])
      expectNoneOf(text, TOKEN);
    expect(err.description).to.include('[redacted]');
  });

  it('a code exchange whose answer repeats the code (as sent, or URL-encoded), or the client secret', async () => {
    server.reply(
      json(400, {
        error: 'invalid_grant',
        error_description: `code ${TOKEN} / ${encodeURIComponent(TOKEN)} for client s3cr3t-value-1234`,
      }),
    );
    const err = (await client.exchangeCode(TOKEN, { codeVerifier: 'v'.repeat(43) }).catch((e: unknown) => e)) as Error;
    expectNoneOf(err.message, TOKEN);
    expect(err.message).to.not.include('s3cr3t-value-1234');
  });

  it("the revoke endpoint's error repeating the token: RevokeFailedError carries none of it", async () => {
    server.reply(json(400, { error: `unknown token ${TOKEN}` }));
    const err = (await client.revoke(TOKEN).catch((e: unknown) => e)) as RevokeFailedError;
    expect(err).to.be.instanceOf(RevokeFailedError);
    expectNoneOf(err.message, TOKEN);
    expect(err.message).to.include('HTTP 400').and.include('[redacted]');
  });

  it("strategy.userProfile with a token holding CR/LF: undici's header error is redacted, and its cause not kept", async () => {
    const strategy = new SamsaraStrategy({ clientID: 'my-client', clientSecret: 's', baseURL: server.url });
    const token = `${TOKEN}\r\nX-Injected: 1`;
    const err = await new Promise<unknown>((resolve) => {
      strategy.userProfile(token, (e) => resolve(e));
    });
    expect(err).to.be.instanceOf(ProfileError);
    const profileError = err as ProfileError;
    expect(profileError.code).to.equal('SAMSARA_PROFILE_FAILED');
    expectNoneOf(profileError.message, TOKEN);
    expect(profileError.cause).to.equal(undefined);
    expect(server.requests, 'nothing was sent').to.have.length(0);
  });

  it("the app's JSON log: a Disconnect whose revoke answer repeats the refresh token logs none of it", async () => {
    const emulator = await startSamsaraEmulator({ autoApprove: true });
    const store = new MemoryTokenStore();
    const logged: SamsaraAppLogEntry[] = [];
    const app = createSamsaraApp({ tokens: new TokenManager({ store, client: emulator }), log: (e) => logged.push(e) });
    const { server: listening, url } = await listenLocal(app);
    try {
      const agent = request.agent(url);
      await signIn(agent, '', emulator);
      const { refreshToken } = (await store.get('1001'))!;
      const body = JSON.stringify({ error: `token ${refreshToken} is unknown` });
      emulator.injectFault('revoke', { type: 'status', status: 400, body, contentType: 'application/json' }, 5);
      const res = await agent.post('/disconnect').set('origin', url).expect(502);
      expect(logged.map((e) => e.code)).to.deep.equal(['SAMSARA_REVOKE_FAILED']);
      expect(logged[0].message).to.include('[redacted]');
      expectNoneOf(JSON.stringify(logged) + res.text, refreshToken);
    } finally {
      await closeServer(listening);
      await emulator.stop();
    }
  });
});
