import { SCOPE_LABELS } from './directory.js';
import type { EmulatorClient, EmulatorOrganization } from './options.js';
import { escapeHTML } from './replies.js';

/** The authorize parameters the consent form carries back. */
const AUTHORIZE_PARAMS = [
  'client_id',
  'redirect_uri',
  'state',
  'response_type',
  'code_challenge',
  'code_challenge_method',
];

/** The consent page: the request rides along in hidden fields, so the POST can re-check all of it. */
export function consentPage(
  params: URLSearchParams,
  client: EmulatorClient,
  scopes: readonly string[],
  organizations: EmulatorOrganization[],
): string {
  const hidden = AUTHORIZE_PARAMS.filter((name) => params.has(name))
    .map((name) => `<input type="hidden" name="${name}" value="${escapeHTML(params.get(name) as string)}">`)
    .join('\n');
  const asks = scopes.map((scope) => `<li>${escapeHTML(SCOPE_LABELS[scope] ?? scope)}</li>`).join('');
  const choices = organizations
    .map((o) => `<option value="${escapeHTML(o.id)}">${escapeHTML(o.name)}</option>`)
    .join('');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Samsara emulator: authorize ${escapeHTML(client.clientId)}</title></head>
<body>
<h1>Samsara (emulator)</h1>
<p>The app <strong id="client">${escapeHTML(client.clientId)}</strong> asks to:</p>
<ul id="scopes">${asks}</ul>
<form method="post" action="/oauth2/authorize">
${hidden}
<label>Organization <select name="org_id">${choices}</select></label>
<button id="allow" type="submit" name="decision" value="allow">Allow</button>
<button id="deny" type="submit" name="decision" value="deny">Deny</button>
</form>
</body></html>`;
}
