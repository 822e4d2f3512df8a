import { expect } from 'chai';
import request from 'supertest';
import type { SamsaraAppAccount, SamsaraConnection } from 'passport-samsara/app';
import type { SamsaraEmulator } from 'passport-samsara/testing';

/** A cookie-keeping supertest client of an app at `url`. */
export type Agent = ReturnType<typeof request.agent>;

/**
 * Signs in through the app mounted at `url` + `base`, with an emulator started `autoApprove`:
 * Connect, the emulator's redirect (followed by plain fetch: it needs no cookie), the callback.
 */
export async function signIn(agent: Agent, base: string, emulator: SamsaraEmulator): Promise<void> {
  const start = await agent.get(`${base}/auth/samsara`).expect(302);
  const authorize = new URL(start.headers.location);
  expect(authorize.origin).to.equal(emulator.baseURL);
  const approved = await fetch(authorize, { redirect: 'manual' });
  const callback = new URL(approved.headers.get('location') as string);
  await agent.get(callback.pathname + callback.search).expect(303);
}

/** What no response of the app may carry: a stack frame or an error's own text. */
export function expectNoLeak(text: string, ...secrets: string[]): void {
  expect(text).to.not.match(/\n\s+at .+:\d+:\d+/);
  for (const secret of secrets) expect(text).to.not.include(secret);
}

/**
 * A host's accounts table for the app's `account` option, in memory: the account is `req.user.accountId`
 * (whatever the host's login put there), and each account records the organization it connected.
 */
export function accounts(signInURL = '/login'): {
  account: SamsaraAppAccount;
  connections: Map<string, SamsaraConnection>;
} {
  const connections = new Map<string, SamsaraConnection>();
  const account: SamsaraAppAccount = {
    id: (req) => {
      const user: { accountId?: string } | undefined = req.user;
      return user?.accountId;
    },
    connection: (accountId) => connections.get(accountId),
    connect: (accountId, connection) => void connections.set(accountId, connection),
    disconnect: (accountId) => void connections.delete(accountId),
    signInURL,
  };
  return { account, connections };
}
