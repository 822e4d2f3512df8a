import type { SamsaraEmulator } from 'passport-samsara/testing';

/** Raw HTTP to the emulator, bypassing the package's client: the emulator's own tests use it. */
export const REDIRECT = 'http://127.0.0.1:9/auth/samsara/callback';

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

export async function postForm(
  emulator: SamsaraEmulator,
  path: '/oauth2/token' | '/oauth2/revoke',
  form: Record<string, string>,
  authorization: string | null = basic(emulator.clientID, emulator.clientSecret),
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(emulator.baseURL + path, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(authorization ? { authorization } : {}),
    },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // a non-JSON body stays text
  }
  return { status: res.status, body, headers: res.headers };
}

/** GET /oauth2/authorize (auto-approved, or the consent page) without following redirects. */
export async function authorize(emulator: SamsaraEmulator, params: Record<string, string>): Promise<Response> {
  const query = new URLSearchParams({
    client_id: emulator.clientID,
    response_type: 'code',
    redirect_uri: REDIRECT,
    ...params,
  });
  return fetch(`${emulator.baseURL}/oauth2/authorize?${query.toString()}`, { redirect: 'manual' });
}

/** A code through the auto-approving authorize endpoint. */
export async function codeFor(emulator: SamsaraEmulator, params: Record<string, string> = {}): Promise<string> {
  const res = await authorize(emulator, { state: 's', ...params });
  const code = new URL(res.headers.get('location') as string).searchParams.get('code');
  if (!code) throw new Error(`no code in ${res.headers.get('location')}`);
  return code;
}

export async function api(
  emulator: SamsaraEmulator,
  path: string,
  token?: string,
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(emulator.baseURL + path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json(), headers: res.headers };
}
