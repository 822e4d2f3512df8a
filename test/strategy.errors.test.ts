import { expect } from 'chai';
import { MemoryTokenStore, SamsaraStrategy, TokenManager } from 'passport-samsara';
import { startSamsaraEmulator, type EmulatorFault, type SamsaraEmulator } from 'passport-samsara/testing';
import { authorizeRedirect, pathOf, startApp, type TestApp } from './support/app.js';
import { clientOf } from './support/grants.js';

describe('SamsaraStrategy: token and profile failures during sign-in', () => {
  let emulator: SamsaraEmulator;
  let app: TestApp;
  let tokenStore: MemoryTokenStore;

  beforeEach(async () => {
    emulator = await startSamsaraEmulator({ autoApprove: true });
    tokenStore = new MemoryTokenStore();
    const tokens = new TokenManager({ store: tokenStore, client: { ...clientOf(emulator), timeout: 500 } });
    app = await startApp(new SamsaraStrategy({ tokens }));
  });
  afterEach(async () => {
    await app.close();
    await emulator.stop();
  });

  async function callbackWithFault(endpoint: 'token' | 'api', fault: EmulatorFault) {
    const { callback } = await authorizeRedirect(app);
    emulator.injectFault(endpoint, fault);
    const res = await app.agent.get(pathOf(callback));
    expect(await tokenStore.get('1001'), 'nothing is stored').to.equal(null);
    const text = JSON.stringify(res.body);
    expect(text).to.not.include(callback.searchParams.get('code')!);
    return res.body.error as { name: string; code: string; status: number; message: string };
  }

  const tokenFaults: Array<[string, EmulatorFault, string, number]> = [
    [
      'a non-JSON 200',
      { type: 'status', status: 200, body: 'OK', contentType: 'text/plain' },
      'SAMSARA_BAD_RESPONSE',
      502,
    ],
    [
      'a 200 without access_token',
      { type: 'status', status: 200, body: '{"expires_in":3600}', contentType: 'application/json' },
      'SAMSARA_BAD_RESPONSE',
      502,
    ],
    [
      'a 503 in plain text',
      { type: 'status', status: 503, body: 'no healthy upstream', contentType: 'text/plain' },
      'SAMSARA_UPSTREAM',
      502,
    ],
    ['a hang past the timeout', { type: 'hang' }, 'SAMSARA_TIMEOUT', 504],
    ['a dropped connection', { type: 'drop' }, 'SAMSARA_UNREACHABLE', 502],
  ];
  for (const [what, fault, code, status] of tokenFaults) {
    it(`fails the sign-in on ${what} from the token endpoint with ${code}`, async () => {
      const error = await callbackWithFault('token', fault);
      expect(error).to.include({ code, status });
    });
  }

  it('passes an OAuth error from the token endpoint through as TokenError', async () => {
    const error = await callbackWithFault('token', {
      type: 'status',
      status: 401,
      body: '{"error":"invalid_client","error_description":"Client authentication failed"}',
      contentType: 'application/json',
    });
    expect(error).to.include({ name: 'TokenError', code: 'invalid_client', status: 500 });
  });

  const profileFaults: Array<[string, EmulatorFault, string, number]> = [
    [
      '401',
      {
        type: 'status',
        status: 401,
        body: '{"message":"Unauthorized","requestId":"r1"}',
        contentType: 'application/json',
      },
      'SAMSARA_PROFILE_UNAUTHORIZED',
      502,
    ],
    [
      '403',
      {
        type: 'status',
        status: 403,
        body: '{"message":"Forbidden","requestId":"r2"}',
        contentType: 'application/json',
      },
      'SAMSARA_PROFILE_FORBIDDEN',
      403,
    ],
    [
      '500',
      { type: 'status', status: 500, body: 'Internal Server Error', contentType: 'text/plain' },
      'SAMSARA_PROFILE_FAILED',
      502,
    ],
    [
      'garbage',
      { type: 'status', status: 200, body: '{"data":[]}', contentType: 'application/json' },
      'SAMSARA_PROFILE_FAILED',
      502,
    ],
    ['a hang', { type: 'hang' }, 'SAMSARA_PROFILE_FAILED', 502],
  ];
  for (const [what, fault, code, status] of profileFaults) {
    it(`fails the sign-in when /me answers ${what}, with ${code}`, async () => {
      const error = await callbackWithFault('api', fault);
      expect(error).to.include({ name: 'ProfileError', code, status });
      if (code === 'SAMSARA_PROFILE_FORBIDDEN') expect(error.message).to.include('Read Org Information');
      // The grant the failed sign-in received is revoked, not left live at Samsara.
      const deadline = Date.now() + 2_000;
      while (emulator.activeGrants('1001') > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(emulator.activeGrants('1001')).to.equal(0);
      expect(emulator.counters.revocations).to.equal(1);
    });
  }
});
