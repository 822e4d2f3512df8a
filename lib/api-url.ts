import type { SamsaraEndpoints } from './endpoints.js';

/**
 * The absolute URL of `path`, checked to lie under the base URL. The check runs on the parsed
 * URL, so neither `..` segments, nor a different spelling of the host, nor credentials in the
 * URL get a token sent elsewhere. Anything else is a `TypeError`, thrown before anything is sent.
 */
export function apiURL(endpoints: Pick<SamsaraEndpoints, 'baseURL' | 'apiURL'>, path: string | URL): string {
  const text = String(path);
  const base = new URL(endpoints.baseURL);
  const target = new URL(/^https?:\/\//i.test(text) ? text : endpoints.apiURL(text));
  const root = base.pathname.replace(/\/+$/, '');
  const inside =
    target.origin === base.origin &&
    target.username === '' &&
    target.password === '' &&
    (target.pathname === root || target.pathname.startsWith(`${root}/`));
  if (!inside) {
    throw new TypeError(
      `This only calls Samsara's API (${endpoints.baseURL}): the URL points elsewhere, and the access token must not go there.`,
    );
  }
  return target.href;
}

/**
 * Whether `fetch` can send this body again: it re-reads strings, buffers, Blobs, FormData and
 * URLSearchParams on every call. Streams and async iterables are consumed by the first send, and
 * so is anything not known here (a conservative default: a body we cannot resend is never resent).
 */
export function replayable(body: RequestInit['body']): boolean {
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    ArrayBuffer.isView(body) ||
    body instanceof ArrayBuffer ||
    body instanceof Blob ||
    body instanceof FormData ||
    body instanceof URLSearchParams
  );
}
