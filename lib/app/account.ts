import type { Request, RequestHandler } from 'express';
import type { SamsaraUser } from '../verify.js';

/** What the app keeps in its own session: the organization, your verify's additions, and when. */
export interface AppUser extends SamsaraUser {
  /** `expires_in` at sign-in, in seconds: with the expiry, it dates the last refresh. */
  tokenLifetime?: number;
  /** When this session connected the organization, in ms since the epoch. */
  connectedAt: number;
}

/**
 * An organization connected to one of your accounts, as the app hands it to
 * {@link SamsaraAppAccount.connect} and reads it back from {@link SamsaraAppAccount.connection}.
 *
 * @example
 * ```ts
 * const connection: SamsaraConnection = { orgId: '1001', orgName: "Charlie's Dining Services", connectedAt: Date.now() };
 * ```
 */
export interface SamsaraConnection {
  orgId: string;
  orgName: string;
  /** When the organization was connected, in ms since the epoch. */
  connectedAt: number;
  /** The access token's lifetime at sign-in, in seconds: with its expiry, it dates the last refresh. */
  tokenLifetime?: number;
}

/**
 * The `account` option of `createSamsaraApp`: for an app with its own login, whose customers
 * connect their company's Samsara organization to their account. The app then runs in your
 * session (when one is on the request) and never signs anyone in or out: your signed-in user
 * names the account, and the account records which organization it connected. Everyone who signs
 * in to that account uses the organization's grant.
 *
 * @example
 * ```ts
 * const account: SamsaraAppAccount = {
 *   id: (req) => req.user?.accountId,
 *   connection: (accountId) => db.samsaraConnections.get(accountId),
 *   connect: (accountId, connection) => db.samsaraConnections.set(accountId, connection),
 *   disconnect: (accountId) => db.samsaraConnections.delete(accountId),
 *   signInURL: '/login',
 * };
 * host.use(session(...), passport.session()); // your login first
 * host.use('/integrations/samsara', createSamsaraApp({ tokens, account }));
 * ```
 */
export interface SamsaraAppAccount {
  /**
   * The account the request's signed-in user belongs to, or undefined when nobody is signed in to
   * your app. It decides whose organization the request reads: take it from your authenticated
   * state (`req.user`), never from what the request sends.
   */
  id(req: Request): string | undefined | PromiseLike<string | undefined>;
  /** The organization connected to the account, as `connect` recorded it; undefined when none. */
  connection(accountId: string): SamsaraConnection | undefined | PromiseLike<SamsaraConnection | undefined>;
  /** Records that the account connected the organization (after its grant is kept). */
  connect(accountId: string, connection: SamsaraConnection): void | PromiseLike<void>;
  /** Records that the account's organization was disconnected (after its grants are revoked). */
  disconnect(accountId: string, connection: SamsaraConnection): void | PromiseLike<void>;
  /** Your sign-in page: where the app sends a visitor who is not signed in to your app. */
  signInURL: string;
}

/** Whom the app serves on a request: the account (with `account`) and the organization connected. */
export interface Served {
  /** Undefined in the app's own sessions, and for a visitor not signed in to the host. */
  accountId?: string;
  /** The organization, with what the app's own session adds (your verify's fields). */
  connection?: SamsaraConnection & Partial<AppUser>;
}

const served = new WeakMap<Request, Served>();

/** What {@link serveOwn} or {@link serveAccount} found for `req` (nothing before they ran). */
export function servedOf(req: Request): Served {
  return served.get(req) ?? {};
}

/** In the app's own session: the organization is the signed-in user. */
export const serveOwn: RequestHandler = (req, _res, next) => {
  const user: Partial<AppUser> | undefined = req.user;
  const connected = typeof user?.orgId === 'string' && typeof user.orgName === 'string';
  served.set(req, connected ? { connection: { connectedAt: 0, ...user } as SamsaraConnection & AppUser } : {});
  next();
};

/** With the `account` option: your account, and the organization it connected. */
export function serveAccount(account: SamsaraAppAccount): RequestHandler {
  return (req, _res, next) => {
    void (async (): Promise<void> => {
      const accountId = await account.id(req);
      const connection = accountId === undefined ? undefined : await account.connection(accountId);
      served.set(req, {
        ...(accountId !== undefined && { accountId }),
        ...(connection && { connection }),
      });
    })().then(() => next(), next);
  };
}
