import { expect } from 'chai';
import { playFault } from '../lib/testing/faults.js';
import { indexById } from '../lib/testing/directory.js';
import { defaultSettings, type Settings } from '../lib/testing/options.js';
import type { EmulatorRequest } from '../lib/testing/request.js';
import { handle } from '../lib/testing/router.js';
import { createState, issueTokens, newGrant, type EmulatorState } from '../lib/testing/state.js';

// The handlers are functions of (state, settings, request): these tests call them with no server
// and no socket. The emulator's other tests drive the same code over HTTP.

const CLIENT = { clientId: 'app', clientSecret: 'secret' };
const BASIC = `Basic ${Buffer.from('app:secret').toString('base64')}`;

function request(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; form?: Record<string, string> } = {},
): EmulatorRequest {
  const form = new URLSearchParams(init.form);
  return {
    method,
    url: new URL(path, 'http://emulator.invalid'),
    headers: init.headers ?? {},
    form,
    body: form.toString(),
  };
}

function tokenRequest(form: Record<string, string>): EmulatorRequest {
  return request('POST', '/oauth2/token', {
    headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' },
    form,
  });
}

describe('Samsara emulator: handlers without a socket', () => {
  let state: EmulatorState;
  let settings: Settings;
  let now: number;

  beforeEach(() => {
    now = Date.parse('2025-03-01T12:00:00Z');
    state = createState(
      indexById([CLIENT], (c) => c.clientId, 'client'),
      indexById(
        [
          { id: '1001', name: 'Org One', vehicleCount: 3 },
          { id: '2002', name: 'Org Two' },
        ],
        (o) => o.id,
        'organization',
      ),
      600,
      () => now,
    );
    settings = defaultSettings();
  });

  const grant = (orgId = '1001') => issueTokens(state, settings, newGrant(state, 'app', orgId));

  it('answers /me for a Bearer token, and 401 in Samsara’s shape without one', () => {
    const { accessToken } = grant();
    const me = handle(state, settings, request('GET', '/me', { headers: { authorization: `Bearer ${accessToken}` } }));
    expect(me.status).to.equal(200);
    expect(JSON.parse(me.body)).to.deep.equal({ data: { id: '1001', name: 'Org One' } });
    const anonymous = handle(state, settings, request('GET', '/me'));
    expect(anonymous.status).to.equal(401);
    expect(JSON.parse(anonymous.body)).to.have.keys('message', 'requestId');
    expect(state.counters.unauthorized).to.equal(1);
  });

  it('rotates a refresh token once, then refuses it with invalid_grant', () => {
    const { refreshToken } = grant();
    const first = handle(state, settings, tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken }));
    expect(first.status).to.equal(200);
    expect(JSON.parse(first.body)).to.include({ token_type: 'Bearer', expires_in: 3600 });
    const again = handle(state, settings, tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken }));
    expect([again.status, again.oauthError]).to.deep.equal([400, 'invalid_grant']);
    expect(state.counters.tokensIssued).to.equal(1);
  });

  it('revokes one grant or the organization’s, as the settings say', () => {
    const revoke = (token: string) =>
      handle(
        state,
        settings,
        request('POST', '/oauth2/revoke', {
          headers: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' },
          form: { token },
        }),
      );
    settings.revocation = 'grant';
    const [a, b] = [grant(), grant()];
    expect(revoke(a.refreshToken).status).to.equal(200);
    expect([...state.grants].map((g) => g.revoked)).to.deep.equal([true, false]);
    settings.revocation = 'organization';
    const other = grant('2002');
    revoke(b.accessToken);
    expect([...state.grants].map((g) => g.revoked)).to.deep.equal([true, true, false]);
    expect(state.refreshTokens.get(other.refreshToken)?.grant.revoked).to.equal(false);
  });

  it('redirects with a code at once when settings say autoApprove', () => {
    settings.autoApprove = '2002';
    const query = new URLSearchParams({
      client_id: 'app',
      response_type: 'code',
      redirect_uri: 'http://127.0.0.1:9/cb',
      state: 's',
    });
    const reply = handle(state, settings, request('GET', `/oauth2/authorize?${query.toString()}`));
    expect(reply.status).to.equal(302);
    const location = new URL(reply.headers.location);
    expect(location.searchParams.get('state')).to.equal('s');
    expect(state.codes.get(location.searchParams.get('code') as string)?.orgId).to.equal('2002');
  });

  it('pages vehicles from the state’s fleet', () => {
    const { accessToken } = grant();
    const reply = handle(
      state,
      settings,
      request('GET', '/fleet/vehicles?limit=2', { headers: { authorization: `Bearer ${accessToken}` } }),
    );
    const page = JSON.parse(reply.body);
    expect(page.data).to.have.length(2);
    expect(page.pagination.hasNextPage).to.equal(true);
  });

  it('answers 404 for an unknown path, and lets a bug of its own escape for the pipeline to answer', () => {
    expect(handle(state, settings, request('GET', '/nowhere')).status).to.equal(404);
    const { accessToken } = grant();
    const broken = {
      ...state,
      clock: (): number => {
        throw new Error('clock broke');
      },
    };
    expect(() =>
      handle(broken, settings, request('GET', '/me', { headers: { authorization: `Bearer ${accessToken}` } })),
    ).to.throw('clock broke');
  });

  it('turns a status fault into a reply, and a delay into a pause', async () => {
    const reply = await playFault({ type: 'status', status: 503, body: 'down' }, async () => {});
    expect(reply).to.deep.equal({ status: 503, headers: { 'content-type': 'text/plain' }, body: 'down' });
    const paused: number[] = [];
    expect(await playFault({ type: 'delay', ms: 40 }, async (ms) => void paused.push(ms))).to.equal(undefined);
    expect(paused).to.deep.equal([40]);
    expect(await playFault({ type: 'drop' }, async () => {})).to.equal('drop');
  });
});
