/**
 * Every way a request of the app can fail, each with its own page, status and next step: consent
 * `denied` (403), a sign-in that `expired` (state missing, spent or too old; 400), an organization
 * your verify `refused` (403), `reauthorize` (401), Samsara `unavailable` (502/503/504) or
 * `rate-limited` (429), the token store down (`store-down`, 503), `revoke-failed` (502), a
 * `cross-site` Disconnect or sign-out (403), `signed-out` (401: with the `account` option, nobody
 * is signed in to your app), `bad-request` (400), `not-found` (404) and `error` (500).
 *
 * @example
 * ```ts
 * createSamsaraApp({ log: (entry) => { if (entry.kind === 'store-down') pager.alert(entry.ref); } });
 * ```
 */
export type FailureKind =
  | 'denied'
  | 'expired'
  | 'refused'
  | 'reauthorize'
  | 'unavailable'
  | 'rate-limited'
  | 'store-down'
  | 'revoke-failed'
  | 'cross-site'
  | 'signed-out'
  | 'bad-request'
  | 'not-found'
  | 'error';

/** One failure's page. */
export interface FailurePage {
  status: number;
  /** A stable code for JSON clients. */
  code: string;
  title: string;
  /** What happened, in the user's terms: never the error's own text. */
  what: string;
  /** The next step: a link (GET) to a page of the app. */
  next: { label: string; href: 'connect' | 'home' | 'retry' | 'sign-in' };
}

export const PAGES: Record<FailureKind, FailurePage> = {
  denied: {
    status: 403,
    code: 'SAMSARA_ACCESS_DENIED',
    title: 'Access was not granted',
    what: 'Samsara reports that the request was declined, so nothing was connected.',
    next: { label: 'Connect Samsara again and choose Allow', href: 'connect' },
  },
  expired: {
    status: 400,
    code: 'SAMSARA_SIGN_IN_EXPIRED',
    title: 'This sign-in cannot be finished',
    what: 'The sign-in expired, was already used, or was started in another browser. Nothing was connected.',
    next: { label: 'Start the sign-in again', href: 'connect' },
  },
  refused: {
    status: 403,
    code: 'SAMSARA_ORGANIZATION_REFUSED',
    title: 'This organization cannot be connected',
    what: 'This app does not accept that Samsara organization. Nothing was kept.',
    next: { label: 'Back to the start page', href: 'home' },
  },
  reauthorize: {
    status: 401,
    code: 'SAMSARA_REAUTHORIZE',
    title: 'Connect Samsara again',
    what: 'Samsara no longer accepts this app for your organization: it was disconnected or uninstalled in Samsara, or the sign-in ended.',
    next: { label: 'Connect Samsara', href: 'connect' },
  },
  unavailable: {
    status: 502,
    code: 'SAMSARA_UNAVAILABLE',
    title: 'Samsara is not answering',
    what: 'Samsara could not be reached or answered with an error. Your connection is unchanged.',
    next: { label: 'Try again', href: 'retry' },
  },
  'rate-limited': {
    status: 429,
    code: 'SAMSARA_RATE_LIMITED',
    title: 'Samsara asked us to slow down',
    what: 'Too many requests reached Samsara for your organization in a short time. Your connection is unchanged.',
    next: { label: 'Try again', href: 'retry' },
  },
  'store-down': {
    status: 503,
    code: 'SAMSARA_STORE_UNAVAILABLE',
    title: 'The connection is briefly unavailable',
    what: 'The app cannot reach the store that keeps your Samsara connection. Nothing was changed.',
    next: { label: 'Try again', href: 'retry' },
  },
  'revoke-failed': {
    status: 502,
    code: 'SAMSARA_REVOKE_FAILED',
    title: 'Disconnect did not finish',
    what: 'Samsara did not confirm that it revoked access, so the connection is still active in Samsara. Disconnect again in a moment.',
    next: { label: 'Back to the start page', href: 'home' },
  },
  'cross-site': {
    status: 403,
    code: 'SAMSARA_CROSS_SITE',
    title: 'Use this app’s own page',
    what: 'A request to disconnect or sign out came from another site, so nothing was done.',
    next: { label: 'Go to the start page', href: 'home' },
  },
  'signed-out': {
    status: 401,
    code: 'SAMSARA_SIGNED_OUT',
    title: 'Sign in first',
    what: 'Sign in to your account before you connect Samsara to it or look at its connection.',
    next: { label: 'Sign in', href: 'sign-in' },
  },
  'bad-request': {
    status: 400,
    code: 'SAMSARA_BAD_REQUEST',
    title: 'This page address is not valid',
    what: 'The address is malformed, or points to a page that no longer exists.',
    next: { label: 'Go to the start page', href: 'home' },
  },
  'not-found': {
    status: 404,
    code: 'SAMSARA_NOT_FOUND',
    title: 'Page not found',
    what: 'There is no page at this address.',
    next: { label: 'Go to the start page', href: 'home' },
  },
  error: {
    status: 500,
    code: 'SAMSARA_APP_ERROR',
    title: 'Something went wrong',
    what: 'The app failed to handle this request. It has been logged with the reference below.',
    next: { label: 'Go to the start page', href: 'home' },
  },
};
