import { expect } from 'chai';
import request from 'supertest';
import { MemoryTokenStore, OAuthClient, TokenManager } from 'passport-samsara';
import { relay, startApiApp } from './support/api-app.js';
import { json, startRecordingServer } from './support/recording-server.js';

/**
 * The Bearer token goes only to URLs under the base URL. A recording server plays Samsara behind
 * a path prefix (a proxy), so an escape from the prefix would show up in what it records.
 */
describe('API calls: the base-URL guard', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingServer>>;
  let app: { url: string; close(): Promise<void> };
  let target: string;
  let base: string;
  let caught: unknown;

  beforeEach(async () => {
    upstream = await startRecordingServer();
    upstream.reply(json(200, { data: [] }));
    base = `${upstream.url}/samsara`;
    const tokens = new TokenManager({
      store: new MemoryTokenStore(),
      client: new OAuthClient({ clientID: 'client', clientSecret: 'secret', baseURL: base, timeout: 2_000 }),
    });
    await tokens.connect('1001', {
      accessToken: 'access-1',
      refreshToken: 'refresh-1',
      expiresAt: Date.now() + 3600_000,
    });
    caught = undefined;
    app = await startApiApp({
      tokens,
      route: async (req, res) => {
        try {
          await relay(res, await req.samsara.fetch(target));
        } catch (err) {
          caught = err;
          throw err;
        }
      },
    });
  });
  afterEach(async () => {
    await app.close();
    await upstream.stop();
  });

  async function refused(url: string): Promise<void> {
    target = url;
    await request(app.url).get('/call').expect(500);
    expect(caught).to.be.instanceOf(TypeError);
    expect((caught as Error).message).to.match(/only calls Samsara's API/);
    expect(upstream.requests, 'nothing reached the server').to.have.length(0);
  }

  async function sentTo(url: string, path: string): Promise<void> {
    target = url;
    await request(app.url).get('/call').expect(200);
    expect(upstream.requests.map((r) => r.path)).to.deep.equal([path]);
    expect(upstream.requests[0].headers.authorization).to.equal('Bearer access-1');
  }

  it('sends a relative path under the base URL', () =>
    sentTo('/fleet/vehicles?limit=1', '/samsara/fleet/vehicles?limit=1'));

  it('sends an absolute URL under the base URL, however the scheme and host are spelled', () =>
    sentTo(`${base.replace('http://', 'HTTP://')}/fleet/vehicles`, '/samsara/fleet/vehicles'));

  it('refuses another origin', () => refused('https://evil.example.com/steal'));

  it('refuses another host under the very base path (only the origin check stops it)', async () => {
    const path = new URL(base).pathname;
    await refused(`https://evil.example.com${path}/fleet/vehicles`);
    await refused(`http://localhost:${new URL(upstream.url).port}${path}/fleet/vehicles`);
  });

  it('refuses the same host on another port', async () => {
    const port = Number(new URL(upstream.url).port);
    await refused(`http://127.0.0.1:${port === 65535 ? 1 : port + 1}/samsara/fleet/vehicles`);
  });

  it('refuses a path that climbs out of the base path', () => refused(`${base}/../admin`));

  it('refuses a relative path that climbs out of the base path', () => refused('/../admin'));

  it('refuses a sibling of the base path that merely shares its prefix', () =>
    refused(`${upstream.url}/samsara-admin/x`));

  it('refuses credentials in the URL', () =>
    refused(`${upstream.url.replace('http://', 'http://user:pw@')}/samsara/fleet/vehicles`));
});
