import { expect } from 'chai';
import type { Request } from 'express';
import { SamsaraStrategy, type SamsaraProfile, type SamsaraTokenParams, type VerifyDone } from 'passport-samsara';
// The passport forms' union types: the constructor's overloads, not names the package publishes.
import type { SamsaraVerify, SamsaraVerifyWithRequest } from '../lib/verify.js';
import { startSamsaraEmulator, type SamsaraEmulator } from 'passport-samsara/testing';
import { authorizeRedirect, pathOf, startApp } from './support/app.js';
import { clientOf } from './support/grants.js';

interface Seen {
  req?: boolean;
  accessToken?: string;
  refreshToken?: string;
  params?: SamsaraTokenParams;
  profile?: SamsaraProfile;
}

describe('SamsaraStrategy: verify callbacks of every form', () => {
  let emulator: SamsaraEmulator;

  before(async () => {
    emulator = await startSamsaraEmulator({ autoApprove: true });
  });
  after(() => emulator.stop());

  const options = () => clientOf(emulator);

  async function signInWith(strategy: SamsaraStrategy): Promise<{ status: number; body: any }> {
    const app = await startApp(strategy);
    try {
      const { callback } = await authorizeRedirect(app);
      const res = await app.agent.get(pathOf(callback));
      return { status: res.status, body: res.body };
    } finally {
      await app.close();
    }
  }

  function expectSeen(seen: Seen, withParams: boolean, withReq: boolean): void {
    expect(seen.req).to.equal(withReq ? true : undefined);
    expect(seen.accessToken).to.be.a('string').with.length.greaterThan(20);
    expect(seen.refreshToken).to.be.a('string').with.length.greaterThan(20);
    expect(seen.profile?.provider).to.equal('samsara');
    expect(seen.profile?.id).to.equal('1001');
    expect(seen.profile?.organization.name).to.equal("Charlie's Dining Services");
    expect(JSON.parse(seen.profile!._raw).data.id).to.equal('1001');
    if (withParams) {
      expect(seen.params?.access_token).to.equal(seen.accessToken);
      expect(seen.params?.expires_in).to.equal(3600);
      expect(seen.params?.expires_at).to.be.closeTo(Date.now() + 3600_000, 5_000);
    } else {
      expect(seen.params).to.equal(undefined);
    }
  }

  const cases: Array<{ title: string; withParams: boolean; make: (seen: Seen) => SamsaraVerify }> = [
    {
      title: 'done-style (accessToken, refreshToken, profile, done)',
      withParams: false,
      make: (seen) => (accessToken: string, refreshToken: string, profile: SamsaraProfile, done: VerifyDone) => {
        Object.assign(seen, { accessToken, refreshToken, profile });
        done(null, { id: profile.id });
      },
    },
    {
      title: 'done-style (accessToken, refreshToken, params, profile, done)',
      withParams: true,
      make:
        (seen) =>
        (
          accessToken: string,
          refreshToken: string,
          params: SamsaraTokenParams,
          profile: SamsaraProfile,
          done: VerifyDone,
        ) => {
          Object.assign(seen, { accessToken, refreshToken, params, profile });
          done(null, { id: profile.id });
        },
    },
    {
      title: 'async (accessToken, refreshToken, profile)',
      withParams: false,
      make: (seen) => async (accessToken: string, refreshToken: string, profile: SamsaraProfile) => {
        Object.assign(seen, { accessToken, refreshToken, profile });
        return { id: profile.id };
      },
    },
    {
      title: 'async (accessToken, refreshToken, params, profile, done) returning the user',
      withParams: true,
      make:
        (seen) =>
        async (
          accessToken: string,
          refreshToken: string,
          params: SamsaraTokenParams,
          profile: SamsaraProfile,
          _done: VerifyDone,
        ) => {
          Object.assign(seen, { accessToken, refreshToken, params, profile });
          return { id: profile.id };
        },
    },
    {
      title: 'async (accessToken, refreshToken, profile, done) calling done',
      withParams: false,
      make: (seen) => async (accessToken: string, refreshToken: string, profile: SamsaraProfile, done: VerifyDone) => {
        Object.assign(seen, { accessToken, refreshToken, profile });
        await new Promise((r) => setImmediate(r));
        done(null, { id: profile.id });
      },
    },
  ];

  for (const c of cases) {
    it(`calls a ${c.title} verify with the right arguments`, async () => {
      const seen: Seen = {};
      const res = await signInWith(new SamsaraStrategy(options(), c.make(seen)));
      expect(res.status).to.equal(200);
      expect(res.body.user).to.deep.equal({ id: '1001' });
      expectSeen(seen, c.withParams, false);
    });

    it(`calls a ${c.title.replace('(', '(req, ')} verify with the request first`, async () => {
      const seen: Seen = {};
      const inner = c.make(seen) as (...args: unknown[]) => unknown;
      // The same verify with the request in front: one more declared parameter.
      const arity = (c.make({}) as (...args: unknown[]) => unknown).length;
      const withReq = (
        arity === 3
          ? async (req: Request, at: string, rt: string, profile: SamsaraProfile) => {
              seen.req = typeof req.get === 'function';
              return inner(at, rt, profile);
            }
          : arity === 4
            ? (req: Request, at: string, rt: string, profile: SamsaraProfile, done: VerifyDone) => {
                seen.req = typeof req.get === 'function';
                return inner(at, rt, profile, done);
              }
            : (
                req: Request,
                at: string,
                rt: string,
                params: SamsaraTokenParams,
                profile: SamsaraProfile,
                done: VerifyDone,
              ) => {
                seen.req = typeof req.get === 'function';
                return inner(at, rt, params, profile, done);
              }
      ) as SamsaraVerifyWithRequest;
      const res = await signInWith(new SamsaraStrategy({ ...options(), passReqToCallback: true }, withReq));
      expect(res.status).to.equal(200);
      expect(res.body.user).to.deep.equal({ id: '1001' });
      expectSeen(seen, c.withParams, true);
    });
  }

  it('takes a verify as the only argument (options from the environment)', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      SAMSARA_CLIENT_ID: emulator.clientID,
      SAMSARA_CLIENT_SECRET: emulator.clientSecret,
      SAMSARA_BASE_URL: emulator.baseURL,
    });
    try {
      const res = await signInWith(new SamsaraStrategy(async (_at, _rt, profile) => ({ org: profile.displayName })));
      expect(res.body.user).to.deep.equal({ org: "Charlie's Dining Services" });
    } finally {
      process.env = saved;
    }
  });

  it('fails the sign-in when a verify refuses (done(null, false, info) or a promise of false)', async () => {
    const refusedByDone = await signInWith(
      new SamsaraStrategy(options(), (_at: string, _rt: string, _profile: SamsaraProfile, done: VerifyDone) =>
        done(null, false, { message: 'not this org' }),
      ),
    );
    expect(refusedByDone.status).to.equal(401);
    expect(refusedByDone.body.fail).to.deep.equal({ message: 'not this org' });
    const refusedByPromise = await signInWith(new SamsaraStrategy(options(), async () => false));
    expect(refusedByPromise.status).to.equal(401);
  });

  it('reads a 4-parameter verify as (accessToken, refreshToken, profile, done), as passport-oauth2 does', async () => {
    let fourth: unknown;
    const res = await signInWith(
      new SamsaraStrategy(options(), (_at: string, _rt: string, third: SamsaraProfile, done: VerifyDone) => {
        fourth = done;
        return Promise.resolve({ third: third.provider });
      }),
    );
    expect(res.body.user).to.deep.equal({ third: 'samsara' });
    expect(fourth).to.be.a('function');
  });

  it('turns a verify that throws or rejects into an error', async () => {
    const thrown = await signInWith(
      new SamsaraStrategy(options(), (_at: string, _rt: string, _profile: SamsaraProfile, _done: VerifyDone) => {
        throw new Error('verify exploded');
      }),
    );
    expect(thrown.body.error.message).to.equal('verify exploded');
    const rejected = await signInWith(
      new SamsaraStrategy(options(), async () => {
        throw new Error('verify rejected');
      }),
    );
    expect(rejected.body.error.message).to.equal('verify rejected');
  });

  it('ignores a second call of done', async () => {
    const res = await signInWith(
      new SamsaraStrategy(options(), (_at: string, _rt: string, profile: SamsaraProfile, done: VerifyDone) => {
        done(null, { id: profile.id });
        done(new Error('second call'));
      }),
    );
    expect(res.status).to.equal(200);
    expect(res.body.user).to.deep.equal({ id: '1001' });
  });
});
