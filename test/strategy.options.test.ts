import { expect } from 'chai';
import { SamsaraStrategy, TokenManager } from 'passport-samsara';
import { ConfigurationError } from 'passport-samsara/errors';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { authorizeRedirect, pathOf, startApp } from './support/app.js';
import { clientOf } from './support/grants.js';

const ENV_KEYS = [
  'SAMSARA_CLIENT_ID',
  'SAMSARA_CLIENT_SECRET',
  'SAMSARA_CALLBACK_URL',
  'SAMSARA_REGION',
  'SAMSARA_BASE_URL',
];

describe('SamsaraStrategy: options and the environment', () => {
  let saved: Record<string, string | undefined>;

  beforeEach(() => {
    saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
    for (const k of ENV_KEYS) delete process.env[k];
  });
  afterEach(() => {
    for (const k of ENV_KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  async function redirectOf(strategy: SamsaraStrategy): Promise<URL> {
    const app = await startApp(strategy);
    try {
      const res = await app.agent.get('/auth/samsara').expect(302);
      return new URL(res.headers.location);
    } finally {
      await app.close();
    }
  }

  it('is named samsara and exported as Strategy and default', () => {
    const mod = require('passport-samsara') as typeof import('passport-samsara');
    expect(mod.Strategy).to.equal(SamsaraStrategy);
    expect(mod.default).to.equal(SamsaraStrategy);
    expect(new SamsaraStrategy({ clientID: 'id', clientSecret: 'secret' }).name).to.equal('samsara');
  });

  it('is built from environment variables alone', async () => {
    Object.assign(process.env, {
      SAMSARA_CLIENT_ID: 'env-client',
      SAMSARA_CLIENT_SECRET: 'env-secret',
      SAMSARA_CALLBACK_URL: 'https://app.example.com/cb',
    });
    const location = await redirectOf(new SamsaraStrategy());
    expect(location.origin + location.pathname).to.equal('https://api.samsara.com/oauth2/authorize');
    expect(location.searchParams.get('client_id')).to.equal('env-client');
    expect(location.searchParams.get('redirect_uri')).to.equal('https://app.example.com/cb');
  });

  it('throws at construction without a client id or secret, naming the option and the variable', () => {
    expect(() => new SamsaraStrategy())
      .to.throw(ConfigurationError)
      .with.property('message')
      .that.matches(/clientID.*SAMSARA_CLIENT_ID.*clientSecret.*SAMSARA_CLIENT_SECRET/);
    process.env.SAMSARA_CLIENT_ID = 'only-the-id';
    const err = (() => {
      try {
        new SamsaraStrategy();
      } catch (e) {
        return e as ConfigurationError;
      }
      return undefined;
    })();
    expect(err?.code).to.equal('SAMSARA_CONFIG');
    expect(err?.message)
      .to.match(/clientSecret.*SAMSARA_CLIENT_SECRET/)
      .and.not.match(/SAMSARA_CLIENT_ID/);
  });

  it('derives every URL from the EU region (option or SAMSARA_REGION)', () => {
    const byOption = new SamsaraStrategy({ clientID: 'i', clientSecret: 's', region: 'eu' }).tokens.client.endpoints;
    expect(byOption.authorizationURL).to.equal('https://api.eu.samsara.com/oauth2/authorize');
    expect(byOption.tokenURL).to.equal('https://api.eu.samsara.com/oauth2/token');
    expect(byOption.revocationURL).to.equal('https://api.eu.samsara.com/oauth2/revoke');
    expect(byOption.apiURL('/fleet/vehicles')).to.equal('https://api.eu.samsara.com/fleet/vehicles');
    process.env.SAMSARA_REGION = 'EU';
    expect(new SamsaraStrategy({ clientID: 'i', clientSecret: 's' }).tokens.client.endpoints.tokenURL).to.equal(
      'https://api.eu.samsara.com/oauth2/token',
    );
    process.env.SAMSARA_REGION = 'ca';
    expect(() => new SamsaraStrategy({ clientID: 'i', clientSecret: 's' })).to.throw(ConfigurationError, /region "ca"/);
  });

  it('derives every URL from baseURL, which wins over the region', () => {
    const urls = new SamsaraStrategy({
      clientID: 'i',
      clientSecret: 's',
      region: 'eu',
      baseURL: 'http://127.0.0.1:4010/proxy/',
    }).tokens.client.endpoints;
    expect(urls.authorizationURL).to.equal('http://127.0.0.1:4010/proxy/oauth2/authorize');
    expect(urls.tokenURL).to.equal('http://127.0.0.1:4010/proxy/oauth2/token');
    expect(urls.apiURL('me')).to.equal('http://127.0.0.1:4010/proxy/me');
    expect(() => new SamsaraStrategy({ clientID: 'i', clientSecret: 's', baseURL: 'not a url' })).to.throw(
      ConfigurationError,
    );
  });

  it('keeps state on unless it is explicitly false', async () => {
    const on = await redirectOf(new SamsaraStrategy({ clientID: 'i', clientSecret: 's', state: undefined }));
    expect(on.searchParams.get('state')).to.be.a('string').with.length.greaterThan(8);
    const off = await redirectOf(new SamsaraStrategy({ clientID: 'i', clientSecret: 's', state: false }));
    expect(off.searchParams.has('state')).to.equal(false);
  });

  it('refuses pkce together with state: false, clearly', () => {
    expect(() => new SamsaraStrategy({ clientID: 'i', clientSecret: 's', pkce: true, state: false })).to.throw(
      ConfigurationError,
      /pkce needs state/,
    );
  });

  it('refuses skipUserProfile with the default verify, which keys credentials by organization', () => {
    expect(() => new SamsaraStrategy({ clientID: 'i', clientSecret: 's', skipUserProfile: true })).to.throw(
      ConfigurationError,
      /skipUserProfile/,
    );
  });

  describe('against the emulator', () => {
    let emulator: SamsaraEmulator;
    beforeEach(async () => {
      emulator = await startSamsaraEmulator({ autoApprove: true });
    });
    afterEach(() => emulator.stop());

    it('sends a PKCE S256 challenge when pkce is on, and the verifier with the code', async () => {
      const app = await startApp(new SamsaraStrategy({ ...clientOf(emulator), pkce: true }));
      try {
        const { authorizeURL, callback } = await authorizeRedirect(app);
        expect(authorizeURL.searchParams.get('code_challenge_method')).to.equal('S256');
        expect(authorizeURL.searchParams.get('code_challenge')).to.match(/^[\w-]{43}$/);
        const res = await app.agent.get(pathOf(callback)).expect(200);
        expect(res.body.user.orgId).to.equal('1001');
      } finally {
        await app.close();
      }
    });

    it('skips /me with skipUserProfile and a verify of its own, keeping the grant under the orgId it names', async () => {
      const tokens = new TokenManager({ client: clientOf(emulator) });
      const app = await startApp(
        new SamsaraStrategy({ tokens, skipUserProfile: true }, async (_at, _rt, profile) => ({
          orgId: '1001',
          profileSeen: profile !== undefined,
        })),
      );
      try {
        const { callback } = await authorizeRedirect(app);
        const res = await app.agent.get(pathOf(callback)).expect(200);
        expect(res.body.user).to.deep.equal({ orgId: '1001', profileSeen: false });
        expect(emulator.counters.apiCalls).to.equal(0);
        expect(emulator.grantStatus((await tokens.credentials('1001')).refreshToken)).to.equal('active');
      } finally {
        await app.close();
      }
    });

    it('refuses a skipUserProfile sign-in whose user names no orgId: nothing signed in, the grant revoked', async () => {
      const tokens = new TokenManager({ client: clientOf(emulator) });
      const app = await startApp(new SamsaraStrategy({ tokens, skipUserProfile: true }, async () => ({ id: 'x' })));
      try {
        const { callback } = await authorizeRedirect(app);
        const res = await app.agent.get(pathOf(callback)).expect(500);
        expect(res.body.error).to.include({ name: 'ConfigurationError', code: 'SAMSARA_CONFIG' });
        expect(res.body.error.message).to.match(/return a user with orgId/);
        await tokens.idle();
        expect(emulator.activeGrants('1001')).to.equal(0);
      } finally {
        await app.close();
      }
    });
  });
});
