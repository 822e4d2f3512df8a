import { expect } from 'chai';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { REDIRECT, api, authorize, basic, codeFor, postForm } from './support/raw-oauth.js';

// Scopes per client (the app's settings in Samsara's dashboard): the token response says them, and
// the API answers 403 where they fall short. A grant keeps the scopes it was authorized with.

const CLIENTS = [
  { clientId: 'samsara-emulator-client', clientSecret: 'samsara-emulator-secret' },
  { clientId: 'org-only', clientSecret: 'secret-1', scopes: ['read_org'] },
  { clientId: 'vehicles-only', clientSecret: 'secret-2', scopes: ['read_vehicles', 'write_vehicles'] },
  { clientId: 'nothing', clientSecret: 'secret-3', scopes: [] },
];

describe('Samsara emulator: scopes per client', () => {
  let emulator: SamsaraEmulator;

  beforeEach(async () => {
    emulator = await startSamsaraEmulator({ autoApprove: true, clients: CLIENTS });
  });
  afterEach(() => emulator.stop());

  /** Signs in through authorize and the code exchange as the client, and returns the token response. */
  async function signIn(clientId: string): Promise<{ access_token: string; refresh_token: string; scope: string }> {
    const client = CLIENTS.find((c) => c.clientId === clientId)!;
    const res = await authorize(emulator, { client_id: clientId, state: 's' });
    const code = new URL(res.headers.get('location') as string).searchParams.get('code') as string;
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT };
    const tokens = await postForm(emulator, '/oauth2/token', form, basic(clientId, client.clientSecret));
    expect(tokens.status).to.equal(200);
    return tokens.body as { access_token: string; refresh_token: string; scope: string };
  }

  async function statuses(token: string): Promise<number[]> {
    const paths = ['/me', '/fleet/vehicles?limit=1', '/fleet/vehicles/no-such-id'];
    return Promise.all(paths.map(async (path) => (await api(emulator, path, token)).status));
  }

  it('grants read_org, read_vehicles, read_webhooks and write_webhooks by default, and says so in the token response', async () => {
    const tokens = await signIn('samsara-emulator-client');
    expect(tokens.scope).to.equal('read_org read_vehicles read_webhooks write_webhooks');
    expect(emulator.issueGrant().scope).to.equal('read_org read_vehicles read_webhooks write_webhooks');
    expect(await statuses(tokens.access_token)).to.deep.equal([200, 200, 404]);
  });

  it("answers 403 in Samsara's error shape where the grant's scopes fall short", async () => {
    const orgOnly = await signIn('org-only');
    expect(orgOnly.scope).to.equal('read_org');
    expect(await statuses(orgOnly.access_token)).to.deep.equal([200, 403, 403]);
    const vehiclesOnly = await signIn('vehicles-only');
    expect(vehiclesOnly.scope).to.equal('read_vehicles write_vehicles');
    expect(await statuses(vehiclesOnly.access_token)).to.deep.equal([403, 200, 404]);
    const nothing = await signIn('nothing');
    expect(nothing.scope).to.equal('');
    expect(await statuses(nothing.access_token)).to.deep.equal([403, 403, 403]);
    const forbidden = await api(emulator, '/me', vehiclesOnly.access_token);
    expect(forbidden.body).to.have.keys('message', 'requestId');
    expect(forbidden.body.message).to.match(/Read Org Information/);
    expect(emulator.counters.forbidden).to.equal(7);
    expect((await api(emulator, '/me', 'not-a-token')).status, 'a bad token is a 401 before any scope').to.equal(401);
  });

  it('keeps a grant’s scopes across refreshes; a change of the app’s scopes reaches new grants only', async () => {
    const before = await signIn('org-only');
    emulator.setClientScopes(['read_org', 'read_vehicles'], 'org-only');
    const refreshed = await postForm(
      emulator,
      '/oauth2/token',
      { grant_type: 'refresh_token', refresh_token: before.refresh_token },
      basic('org-only', 'secret-1'),
    );
    expect(refreshed.body.scope, 'scope changes take effect on re-authorization').to.equal('read_org');
    expect(await statuses(refreshed.body.access_token)).to.deep.equal([200, 403, 403]);
    const after = await signIn('org-only');
    expect(after.scope).to.equal('read_org read_vehicles');
    expect(await statuses(after.access_token)).to.deep.equal([200, 200, 404]);
    expect(emulator.issueGrant('1001', 'org-only').scope).to.equal('read_org read_vehicles');

    emulator.setClientScopes(['read_vehicles']); // the first client
    expect((await signIn('samsara-emulator-client')).scope).to.equal('read_vehicles');
  });

  it('lists the client’s scopes on the consent page by their dashboard names', async () => {
    emulator.configure({ autoApprove: false });
    const page = async (clientId: string) => (await authorize(emulator, { client_id: clientId })).text();
    expect(await page('samsara-emulator-client'))
      .to.include('<li>Read Org Information</li>')
      .and.include('<li>Read Vehicles</li>')
      .and.include('<li>Read Webhooks</li><li>Write Webhooks</li>');
    const vehiclesOnly = await page('vehicles-only');
    expect(vehiclesOnly).to.include('<li>Read Vehicles</li><li>write_vehicles</li>');
    expect(vehiclesOnly).to.not.include('Read Org Information');
  });

  it('refuses scopes that cannot be said in a scope string, and clients it does not have', async () => {
    for (const scopes of [['read org'], [''], ['a"b'], 'read_org' as unknown as string[]]) {
      let refused: unknown;
      await startSamsaraEmulator({ clients: [{ clientId: 'c', clientSecret: 's', scopes }] }).catch(
        (err: unknown) => (refused = err),
      );
      expect(refused, JSON.stringify(scopes)).to.be.instanceOf(RangeError);
      expect(() => emulator.setClientScopes(scopes), JSON.stringify(scopes)).to.throw(RangeError);
    }
    expect(() => emulator.setClientScopes(['read_org'], 'no-such-client')).to.throw(RangeError);
    const code = await codeFor(emulator);
    const tokens = await postForm(emulator, '/oauth2/token', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
    });
    expect(tokens.body.scope, 'the refused changes changed nothing').to.equal(
      'read_org read_vehicles read_webhooks write_webhooks',
    );
  });
});
