import { expect } from 'chai';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { REDIRECT, api, authorize, postForm } from './support/raw-oauth.js';

const ORGS = [
  { id: '1001', name: "Charlie's Dining Services" },
  { id: '2002', name: 'Acme <Freight> & Sons' },
];

/** What a browser would submit from the consent page: its form's fields, then the button pressed. */
function consentForm(html: string, choices: Record<string, string>): URLSearchParams {
  const form = /<form method="post" action="\/oauth2\/authorize">([\s\S]*?)<\/form>/.exec(html);
  if (!form) throw new Error('the consent page has no form that posts back to /oauth2/authorize');
  const unescape = (text: string) => text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
  const fields = new URLSearchParams();
  for (const [, name, value] of form[1].matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    fields.append(name, unescape(value));
  for (const [name, value] of Object.entries(choices)) fields.append(name, value);
  return fields;
}

function submit(emulator: SamsaraEmulator, fields: URLSearchParams): Promise<Response> {
  return fetch(`${emulator.baseURL}/oauth2/authorize`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: fields,
  });
}

function locationOf(res: Response): URL {
  expect(res.status, 'a redirect').to.equal(302);
  return new URL(res.headers.get('location') as string);
}

describe('Samsara emulator: the authorize endpoint', () => {
  let emulator: SamsaraEmulator;

  beforeEach(async () => {
    emulator = await startSamsaraEmulator({ organizations: ORGS });
  });
  afterEach(() => emulator.stop());

  it('shows a consent page naming the app, with an organization choice and Allow and Deny buttons', async () => {
    const res = await authorize(emulator, { state: 'xyz' });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    const html = await res.text();
    expect(html).to.include(emulator.clientID);
    expect(html)
      .to.match(/<button id="allow"[^>]*>Allow</)
      .and.match(/<button id="deny"[^>]*>Deny</);
    expect(html)
      .to.include('<select name="org_id">')
      .and.include('<option value="2002">Acme &#60;Freight&#62; &#38; Sons</option>');
  });

  it('runs the whole code flow through the consent form: Allow for the chosen org, code, tokens, /me', async () => {
    const state = 'st&"<>\' =x';
    const page = await (await authorize(emulator, { state })).text();
    const back = locationOf(await submit(emulator, consentForm(page, { org_id: '2002', decision: 'allow' })));
    expect(back.origin + back.pathname).to.equal(REDIRECT);
    expect(back.searchParams.get('state')).to.equal(state);
    const code = back.searchParams.get('code') as string;
    expect(code).to.match(/^[\w-]{43,}$/);

    const tokens = await postForm(emulator, '/oauth2/token', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
    });
    expect(tokens.status).to.equal(200);
    const me = await api(emulator, '/me', tokens.body.access_token);
    expect(me.body.data).to.include({ id: '2002', name: 'Acme <Freight> & Sons' });
  });

  it('redirects access_denied with the state on Deny, and issues no code', async () => {
    const page = await (await authorize(emulator, { state: 's1' })).text();
    const back = locationOf(await submit(emulator, consentForm(page, { org_id: '1001', decision: 'deny' })));
    expect(Object.fromEntries(back.searchParams)).to.deep.equal({
      error: 'access_denied',
      error_description: 'The user denied access',
      state: 's1',
    });
    expect(back.search).to.include('error_description=The+user+denied+access');
  });

  it('redirects at once with autoApprove, for the first org or the one named, and omits an unsent state', async () => {
    emulator.configure({ autoApprove: true });
    const first = locationOf(await authorize(emulator, {}));
    expect(first.searchParams.has('state')).to.equal(false);
    const firstTokens = await postForm(emulator, '/oauth2/token', {
      grant_type: 'authorization_code',
      code: first.searchParams.get('code') as string,
      redirect_uri: REDIRECT,
    });
    expect((await api(emulator, '/me', firstTokens.body.access_token)).body.data.id).to.equal('1001');

    emulator.configure({ autoApprove: '2002' });
    const named = locationOf(await authorize(emulator, { state: 'n' }));
    const namedTokens = await postForm(emulator, '/oauth2/token', {
      grant_type: 'authorization_code',
      code: named.searchParams.get('code') as string,
      redirect_uri: REDIRECT,
    });
    expect((await api(emulator, '/me', namedTokens.body.access_token)).body.data.id).to.equal('2002');
    expect(() => emulator.configure({ autoApprove: '9999' })).to.throw(RangeError, /9999/);
  });

  it('never redirects for an unknown client or an unacceptable redirect_uri: a 400 page instead', async () => {
    const cases: Array<Record<string, string>> = [
      { client_id: 'who' },
      { client_id: '' },
      { redirect_uri: 'https://evil.example.com/cb' },
      { redirect_uri: 'https://127.0.0.1:9/cb' }, // loopback, but not plain http
      { redirect_uri: 'http://127.0.0.1@evil.example.com/cb' },
      { redirect_uri: 'http://127.0.0.1:9/cb#frag' },
      { redirect_uri: 'not a url' },
    ];
    for (const params of cases) {
      const res = await authorize(emulator, { ...params, response_type: 'token' });
      expect(res.status, JSON.stringify(params)).to.equal(400);
      expect(res.headers.get('location'), JSON.stringify(params)).to.equal(null);
      expect(res.headers.get('content-type')).to.match(/^text\/html/);
    }
    const twice = await fetch(
      `${emulator.baseURL}/oauth2/authorize?client_id=${emulator.clientID}&response_type=code&redirect_uri=${encodeURIComponent(REDIRECT)}&redirect_uri=x`,
      { redirect: 'manual' },
    );
    expect(twice.status).to.equal(400);
    // Without a registered URL there is nothing to fall back on.
    const missing = await fetch(
      `${emulator.baseURL}/oauth2/authorize?client_id=${emulator.clientID}&response_type=code`,
      { redirect: 'manual' },
    );
    expect(missing.status).to.equal(400);
  });

  it('accepts any plain-http loopback URL for a client without registered URLs', async () => {
    emulator.configure({ autoApprove: true });
    for (const uri of ['http://localhost:3000/cb', 'http://127.0.0.2/x?keep=1', 'http://[::1]:8080/cb']) {
      const back = locationOf(await authorize(emulator, { redirect_uri: uri }));
      expect(back.href.startsWith(uri), uri).to.equal(true);
      expect(back.searchParams.get('code')).to.be.a('string');
    }
  });

  it('re-checks client and redirect_uri on the consent POST', async () => {
    const page = await (await authorize(emulator, { state: 's' })).text();
    const tampered = consentForm(page, { org_id: '1001', decision: 'allow' });
    tampered.set('redirect_uri', 'https://evil.example.com/cb');
    const res = await submit(emulator, tampered);
    expect(res.status).to.equal(400);
    expect(res.headers.get('location')).to.equal(null);
    const unknownOrg = await submit(emulator, consentForm(page, { org_id: '31337', decision: 'allow' }));
    expect(unknownOrg.status).to.equal(400);
  });

  it('matches registered redirect URLs exactly, and uses the single one when redirect_uri is omitted', async () => {
    const registered = 'https://app.example.com/auth/samsara/callback';
    const strict = await startSamsaraEmulator({
      clients: [{ clientId: 'c', clientSecret: 's', redirectUris: [registered] }],
      autoApprove: true,
    });
    try {
      const go = (query: string) =>
        fetch(`${strict.baseURL}/oauth2/authorize?client_id=c&response_type=code${query}`, { redirect: 'manual' });
      expect(locationOf(await go(`&redirect_uri=${encodeURIComponent(registered)}`)).pathname).to.equal(
        '/auth/samsara/callback',
      );
      expect((await go(`&redirect_uri=${encodeURIComponent(`${registered}/`)}`)).status).to.equal(400);
      expect(
        (await go(`&redirect_uri=${encodeURIComponent(REDIRECT)}`)).status,
        'loopback is no exception once URLs are registered',
      ).to.equal(400);
      const omitted = locationOf(await go('&state=o'));
      expect(omitted.origin + omitted.pathname).to.equal(registered);
      expect(omitted.searchParams.get('state')).to.equal('o');
    } finally {
      await strict.stop();
    }
  });

  it('redirects errors in the other parameters, with the state', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ response_type: '' }, 'unsupported_response_type'],
      [{ code_challenge: 'c'.repeat(43), code_challenge_method: 'S512' }, 'invalid_request'],
      [{ code_challenge: 'too-short' }, 'invalid_request'],
    ];
    for (const [params, error] of cases) {
      const back = locationOf(await authorize(emulator, { state: 'st', ...params }));
      expect(back.searchParams.get('error'), JSON.stringify(params)).to.equal(error);
      expect(back.searchParams.get('state')).to.equal('st');
      expect(back.searchParams.has('code')).to.equal(false);
    }
    const base = `${emulator.baseURL}/oauth2/authorize?client_id=${emulator.clientID}&redirect_uri=${encodeURIComponent(REDIRECT)}`;
    const noType = locationOf(await fetch(`${base}&state=a`, { redirect: 'manual' }));
    expect(noType.searchParams.get('error_description')).to.equal('response_type is required.');
    const repeated = locationOf(await fetch(`${base}&response_type=code&state=a&state=b`, { redirect: 'manual' }));
    expect(repeated.searchParams.get('error_description')).to.equal('state is repeated.');
  });

  it('answers 405 to other methods', async () => {
    const res = await fetch(`${emulator.baseURL}/oauth2/authorize`, { method: 'PUT' });
    expect(res.status).to.equal(405);
    expect(res.headers.get('allow')).to.equal('GET, POST');
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
  });
});
