/**
 * `passport-samsara/user`: opt in to typing `req.user` as the Samsara user, for an app whose
 * users sign in with Samsara (the default verify's `{ orgId, orgName }`), so that
 * `req.user.orgId` needs no cast. Opt-in, since an app with its own login has a user of its own.
 * It only declares a type: importing it runs nothing.
 *
 * @example
 * ```ts
 * import 'passport-samsara/user';
 * app.get('/', (req, res) => res.send(req.user ? `Connected: ${req.user.orgName}` : 'Not connected'));
 * ```
 *
 * @packageDocumentation
 */
import type { SamsaraUser } from './verify.js';

declare global {
  namespace Express {
    // An interface merged into passport's Express.User must stay an interface.
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends SamsaraUser {}
  }
}
