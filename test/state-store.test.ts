import { expect } from 'chai';
import sinon from 'sinon';
import { createHash } from 'node:crypto';
import { SessionStateStore, type SessionStateStoreOptions } from 'passport-samsara';
import { ConfigurationError } from 'passport-samsara/errors';
import { startStateApp, type StateApp } from './support/state-app.js';

// The very object the library calls through, so a spy on it sees the library's calls.
const nodeCrypto = require('node:crypto') as typeof import('node:crypto');

const UNABLE = 'Unable to verify authorization request state.';
const INVALID = 'Invalid authorization request state.';
const MINUTE = 60_000;

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

function stateOf(authorizeURL: URL): string {
  const state = authorizeURL.searchParams.get('state');
  if (!state) throw new Error(`no state in ${authorizeURL.href}`);
  return state;
}

describe('SessionStateStore: several sign-ins of one session through Express and passport-oauth2', () => {
  let app: StateApp;
  let clock: sinon.SinonFakeTimers | undefined;

  async function startWith(
    options: SessionStateStoreOptions = {},
    appOptions: Parameters<typeof startStateApp>[1] = {},
  ) {
    app = await startStateApp(new SessionStateStore(options), appOptions);
  }

  afterEach(async () => {
    clock?.restore();
    clock = undefined;
    await app.close();
  });

  it('completes two pending sign-ins in the order they were started, each with its own app state', async () => {
    await startWith();
    const a = stateOf(await app.start('A'));
    const b = stateOf(await app.start('B'));
    expect(a).to.not.equal(b);

    const first = await app.callback('code-a', a).expect(200);
    expect(first.body).to.deep.equal({ user: { code: 'code-a' }, state: { label: 'A' } });
    const second = await app.callback('code-b', b).expect(200);
    expect(second.body).to.deep.equal({ user: { code: 'code-b' }, state: { label: 'B' } });
    expect(app.exchanges.map((e) => e.code)).to.deep.equal(['code-a', 'code-b']);
  });

  it('completes two pending sign-ins in the reverse order', async () => {
    await startWith();
    const a = stateOf(await app.start('A'));
    const b = stateOf(await app.start('B'));

    expect((await app.callback('code-b', b).expect(200)).body.state).to.deep.equal({ label: 'B' });
    expect((await app.callback('code-a', a).expect(200)).body.state).to.deep.equal({ label: 'A' });
    expect(app.sessionDump()).to.not.include('oauth2:samsara');
  });

  it("needs keepSessionInfo: passport's login regenerates the session and drops the other pending sign-ins", async () => {
    await startWith({}, { keepSessionInfo: false });
    const a = stateOf(await app.start('A'));
    const b = stateOf(await app.start('B'));
    await app.callback('code-a', a).expect(200);
    const res = await app.callback('code-b', b).expect(403);
    expect(res.body.fail).to.deep.equal({ message: UNABLE });
  });

  it('fails a replayed state with 403 and exchanges no code for it', async () => {
    await startWith();
    const a = stateOf(await app.start('A'));
    stateOf(await app.start('B'));
    await app.callback('code-a', a).expect(200);

    const replay = await app.callback('code-a', a).expect(403);
    expect(replay.body.fail).to.deep.equal({ message: INVALID });
    expect(app.exchanges).to.have.length(1);
  });

  it('fails a forged or missing state with 403, and the genuine sign-in still completes', async () => {
    await startWith();
    const a = stateOf(await app.start('A'));

    const forged = await app.callback('code-x', `${a.slice(0, -1)}${a.endsWith('A') ? 'B' : 'A'}`).expect(403);
    expect(forged.body.fail).to.deep.equal({ message: INVALID });
    const missing = await app.callback('code-x', null).expect(403);
    expect(missing.body.fail).to.deep.equal({ message: INVALID });
    expect(app.exchanges).to.have.length(0);

    await app.callback('code-a', a).expect(200);
  });

  it('fails a callback from a session that started nothing', async () => {
    await startWith();
    const res = await app.callback('code-x', 'some-state').expect(403);
    expect(res.body.fail).to.deep.equal({ message: UNABLE });
  });

  it('fails a sign-in older than maxAge with a message to sign in again, and spends it', async () => {
    clock = sinon.useFakeTimers({ now: Date.now(), toFake: ['Date'] });
    await startWith({ maxAge: 10 * MINUTE });
    const a = stateOf(await app.start('A'));
    clock.tick(6 * MINUTE);
    const b = stateOf(await app.start('B'));
    clock.tick(4 * MINUTE);

    const expired = await app.callback('code-a', a).expect(403);
    expect(expired.body.fail.message)
      .to.match(/expired/i)
      .and.match(/sign in again/i);
    expect(app.exchanges).to.have.length(0);
    expect((await app.callback('code-a', a).expect(403)).body.fail).to.deep.equal({ message: INVALID });

    await app.callback('code-b', b).expect(200);
  });

  it('drops the oldest pending sign-in past max', async () => {
    await startWith({ max: 2 });
    const a = stateOf(await app.start('A'));
    const b = stateOf(await app.start('B'));
    const c = stateOf(await app.start('C'));

    expect((await app.callback('code-a', a).expect(403)).body.fail).to.deep.equal({ message: INVALID });
    await app.callback('code-c', c).expect(200);
    await app.callback('code-b', b).expect(200);
  });

  it('sends each sign-in its own PKCE verifier, whatever the order of the callbacks', async () => {
    await startWith({}, { pkce: true });
    const authorizeA = await app.start('A');
    const authorizeB = await app.start('B');
    expect(authorizeA.searchParams.get('code_challenge_method')).to.equal('S256');

    expect((await app.callback('code-b', stateOf(authorizeB)).expect(200)).body.state).to.deep.equal({ label: 'B' });
    expect((await app.callback('code-a', stateOf(authorizeA)).expect(200)).body.state).to.deep.equal({ label: 'A' });

    const [b, a] = app.exchanges;
    expect(b.code).to.equal('code-b');
    expect(sha256(b.codeVerifier!)).to.equal(authorizeB.searchParams.get('code_challenge'));
    expect(a.code).to.equal('code-a');
    expect(sha256(a.codeVerifier!)).to.equal(authorizeA.searchParams.get('code_challenge'));
  });

  it('keeps a hash of each handle in the session, never the handle itself', async () => {
    await startWith({}, { pkce: true });
    const a = stateOf(await app.start('A'));
    const b = stateOf(await app.start('B'));

    const dump = app.sessionDump();
    expect(dump).to.not.include(a);
    expect(dump).to.not.include(b);
    expect(dump).to.include(sha256(a)).and.include(sha256(b));
  });
});

describe('SessionStateStore: the store on its own', () => {
  type Session = Record<string, unknown>;
  interface Verified {
    err: Error | null;
    ok: string | boolean | undefined;
    info: unknown;
  }

  function store(s: SessionStateStore, session: Session | undefined, verifier?: string, state?: unknown): string {
    let handle: string | undefined;
    s.store({ session }, verifier, state, {}, (err, h) => {
      if (err) throw err;
      handle = h;
    });
    if (handle === undefined) throw new Error('store did not call back with a handle');
    return handle;
  }

  function verify(s: SessionStateStore, session: Session | undefined, provided: unknown): Verified {
    let result: Verified | undefined;
    s.verify({ session }, provided, {}, (err, ok, info) => {
      result = { err, ok, info };
    });
    if (!result) throw new Error('verify did not call back');
    return result;
  }

  afterEach(() => sinon.restore());

  it('keeps the arities passport-oauth2 dispatches on: store(req, verifier, state, meta, cb), verify(req, state, meta, cb)', () => {
    const s = new SessionStateStore();
    expect(s.store.length).to.equal(5);
    expect(s.verify.length).to.equal(4);
  });

  it('has the documented defaults', () => {
    const s = new SessionStateStore();
    expect({ key: s.key, max: s.max, maxAge: s.maxAge }).to.deep.equal({
      key: 'oauth2:samsara',
      max: 5,
      maxAge: 10 * MINUTE,
    });
  });

  it('hands out distinct 256-bit base64url handles', () => {
    const s = new SessionStateStore();
    const session: Session = {};
    const handles = new Set(Array.from({ length: 5 }, () => store(s, session)));
    expect(handles.size).to.equal(5);
    for (const h of handles) expect(h).to.match(/^[A-Za-z0-9_-]{43}$/);
  });

  it('answers true and the app state without PKCE, the verifier and the app state with it', () => {
    const s = new SessionStateStore({ key: 'k' });
    const session: Session = {};
    const plain = store(s, session, undefined, { returnTo: '/fleet' });
    const pkce = store(s, session, 'verifier-1');
    expect(verify(s, session, plain)).to.deep.equal({ err: null, ok: true, info: { returnTo: '/fleet' } });
    expect(verify(s, session, pkce)).to.deep.equal({ err: null, ok: 'verifier-1', info: undefined });
    expect(session).to.deep.equal({});
  });

  it('answers an Error when the request has no session', () => {
    const s = new SessionStateStore();
    let storeErr: Error | null = null;
    s.store({}, undefined, undefined, {}, (err) => {
      storeErr = err;
    });
    expect(storeErr)
      .to.be.an('error')
      .with.property('message')
      .that.matches(/express-session/);
    const { err } = verify(s, undefined, 'x');
    expect(err)
      .to.be.an('error')
      .with.property('message')
      .that.matches(/session support/);
  });

  it('fails a state that is not a string', () => {
    const s = new SessionStateStore();
    const session: Session = {};
    const handle = store(s, session);
    expect(verify(s, session, [handle, handle])).to.deep.equal({ err: null, ok: false, info: { message: INVALID } });
    expect(verify(s, session, handle).ok).to.equal(true);
  });

  it('compares the state against every pending sign-in, not only up to the match', () => {
    const s = new SessionStateStore();
    const session: Session = {};
    const first = store(s, session);
    store(s, session);
    store(s, session);
    const compare = sinon.spy(nodeCrypto, 'timingSafeEqual');

    expect(verify(s, session, first).ok).to.equal(true);
    expect(compare.callCount).to.equal(3);
    verify(s, session, 'forged');
    expect(compare.callCount).to.equal(5);
  });

  it('is good until maxAge has passed, by the injected clock', () => {
    let now = 1_000_000;
    const s = new SessionStateStore({ maxAge: 60_000, now: () => now });
    const session: Session = {};
    const early = store(s, session);
    const late = store(s, session);
    now += 59_999;
    expect(verify(s, session, early).ok).to.equal(true);
    now += 1;
    const expired = verify(s, session, late);
    expect(expired.ok).to.equal(false);
    expect((expired.info as { message: string }).message).to.match(/expired.*Sign in again\./);
  });

  it('leaves expired sign-ins out of the session when it keeps a new one', () => {
    let now = 0;
    const s = new SessionStateStore({ maxAge: 1_000, now: () => now });
    const session: Session = {};
    store(s, session);
    store(s, session);
    now = 1_000;
    const live = store(s, session);
    expect((session['oauth2:samsara'] as { pending: unknown[] }).pending).to.have.length(1);
    expect(verify(s, session, live).ok).to.equal(true);
  });

  it('drops the oldest of six with the default max of five', () => {
    const s = new SessionStateStore();
    const session: Session = {};
    const handles = Array.from({ length: 6 }, () => store(s, session));
    expect(verify(s, session, handles[0]).info).to.deep.equal({ message: INVALID });
    for (const h of handles.slice(1)) expect(verify(s, session, h).ok).to.equal(true);
  });

  it("reads passport-oauth2's single-state layout or damaged entries as nothing pending", () => {
    const s = new SessionStateStore();
    const session: Session = { 'oauth2:samsara': { state: 'old-handle' } };
    expect(verify(s, session, 'old-handle').info).to.deep.equal({ message: UNABLE });

    session['oauth2:samsara'] = {
      pending: [null, { hash: 'short', expiresAt: 1 }, { hash: sha256('h'), expiresAt: 'soon' }],
    };
    expect(verify(s, session, 'h').info).to.deep.equal({ message: UNABLE });

    const handle = store(s, session);
    expect(verify(s, session, handle).ok).to.equal(true);
  });

  describe('options', () => {
    const show = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : String(value));
    const rejected: Array<[string, SessionStateStoreOptions]> = [
      ['max', { max: 0 }],
      ['max', { max: -1 }],
      ['max', { max: 1.5 }],
      ['max', { max: 101 }],
      ['max', { max: Number.NaN }],
      ['max', { max: Number.POSITIVE_INFINITY }],
      ['max', { max: '5' as unknown as number }],
      ['maxAge', { maxAge: 0 }],
      ['maxAge', { maxAge: 600 }],
      ['maxAge', { maxAge: -MINUTE }],
      ['maxAge', { maxAge: 86_400_001 }],
      ['maxAge', { maxAge: Number.NaN }],
      ['maxAge', { maxAge: Number.POSITIVE_INFINITY }],
      ['key', { key: '' }],
      ['key', { key: 42 as unknown as string }],
      ['now', { now: 123 as unknown as () => number }],
    ];
    for (const [name, options] of rejected) {
      it(`rejects ${name}: ${show(Object.values(options)[0])} with a ConfigurationError naming it`, () => {
        expect(() => new SessionStateStore(options))
          .to.throw(ConfigurationError)
          .with.property('message')
          .that.includes(`option ${name}`);
      });
    }

    it('accepts the ends of each range', () => {
      expect(new SessionStateStore({ max: 1, maxAge: 1_000 })).to.include({ max: 1, maxAge: 1_000 });
      expect(new SessionStateStore({ max: 100, maxAge: 86_400_000 })).to.include({ max: 100, maxAge: 86_400_000 });
    });
  });
});
