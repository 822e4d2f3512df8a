import type { Request } from 'express';
import { SamsaraError } from '../errors/index.js';
import type { FailureKind } from './failure-pages.js';

// The app's log: one entry per failure it answered, never a token, secret, code or cookie value.

/**
 * What the log gets: the class, the status, the reference, the route (never the query, which
 * carries codes and states) and the error's name and code. The message only for the package's own
 * errors, which never name a token, a secret or a code; any other error's text (a description
 * Samsara or a forged callback put in the URL, a verify's exception) stays out.
 */
export function logEntry(
  err: unknown,
  req: Request,
  kind: FailureKind,
  status: number,
  ref: string,
): SamsaraAppLogEntry {
  const { name, code } = err as { name?: unknown; code?: unknown };
  return {
    level: status >= 500 ? 'error' : 'warn',
    event: 'samsara-app.failure',
    kind,
    status,
    ref,
    method: req.method,
    path: req.baseUrl + req.path,
    ...(typeof name === 'string' && SAFE_WORD.test(name) ? { error: name } : {}),
    ...(typeof code === 'string' && SAFE_WORD.test(code) ? { code } : {}),
    ...(err instanceof SamsaraError ? { message: err.message } : {}),
  };
}

const SAFE_WORD = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * One log entry of the app: a failure it answered. No token, secret, code or cookie value is ever
 * part of one.
 *
 * @example
 * ```ts
 * createSamsaraApp({ tokens, log: (entry: SamsaraAppLogEntry) => logger[entry.level](entry) });
 * ```
 */
export interface SamsaraAppLogEntry {
  level: 'warn' | 'error';
  event: 'samsara-app.failure';
  /** The failure class, which decides the page. */
  kind: FailureKind;
  status: number;
  /** Shown on the error page, so a user's report finds this entry. */
  ref: string;
  method: string;
  /** The path, without the query string. */
  path: string;
  /** The error's class name. */
  error?: string;
  /** The error's code (`SAMSARA_STORE_UNAVAILABLE`, `invalid_grant`...). */
  code?: string;
  /** The message of this package's own errors only. */
  message?: string;
}

/**
 * Where the app's log entries go.
 *
 * @example
 * ```ts
 * const log: SamsaraAppLog = (entry) => console.error(JSON.stringify(entry));
 * ```
 */
export type SamsaraAppLog = (entry: SamsaraAppLogEntry) => void;

/** The default: one JSON line on stderr (JSON keeps a forged CR/LF from starting a line of its own). */
export const stderrLog: SamsaraAppLog = (entry) => {
  process.stderr.write(`${JSON.stringify(entry)}\n`);
};
