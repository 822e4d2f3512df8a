// The pages' one HTML toolkit: escaping, the shared layout and the stylesheet. Every piece of data
// that reaches a page goes through escapeHTML; nothing else builds markup from data.

/** Text made safe for HTML element content and quoted attribute values. */
export function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** What every page shares: where the app is mounted, for its links. */
export interface PageContext {
  /** The mount point (`req.baseUrl`): '' at the root, else '/integrations/samsara'. */
  base: string;
}

/**
 * One page: a header with the app's name, a main region, and the stylesheet the app serves itself
 * (the Content-Security-Policy allows no inline style or script). `body` is markup the caller built
 * with escapeHTML.
 */
export function layout(context: PageContext, title: string, body: string): string {
  const base = escapeHTML(context.base);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHTML(title)} · Samsara</title>
<link rel="stylesheet" href="${base}/app.css">
</head><body>
<header><a class="brand" href="${base}/">Samsara connection</a></header>
<main id="main">
<h1>${escapeHTML(title)}</h1>
${body}
</main>
</body></html>`;
}

/** Served at `/app.css`: small, readable on a phone, with visible focus and enough contrast. */
export const STYLESHEET = `:root{color-scheme:light;--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--accent:#0b5cad;--bad:#a40e26;--bg:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#fff;border-bottom:1px solid var(--line);padding:.75rem 1rem}
.brand{font-weight:600;color:var(--ink);text-decoration:none}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
h2{font-size:1.125rem;margin:0 0 .75rem}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem;margin:0 0 1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
.button{display:inline-block;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:6px;padding:.5rem 1rem;font:inherit;text-decoration:none;cursor:pointer}
.button.secondary{background:#fff;color:var(--accent)}
.button.danger{background:#fff;color:var(--bad);border-color:var(--bad)}
a:focus-visible,.button:focus-visible{outline:3px solid #f2b600;outline-offset:2px}
.notice{border-left:4px solid var(--accent);background:#fff;padding:.5rem 1rem;margin:0 0 1rem}
.problem{border-left-color:var(--bad)}
.muted{color:var(--muted)}
.table-wrap{overflow-x:auto;background:#fff;border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%}
caption{text-align:left;padding:.5rem .75rem;color:var(--muted)}
th,td{text-align:left;padding:.5rem .75rem;border-top:1px solid var(--line);white-space:nowrap}
th{background:var(--bg)}
nav.pager{display:flex;gap:.5rem;margin:1rem 0;flex-wrap:wrap}
@media (max-width:40rem){.hide-narrow{display:none}th,td{white-space:normal}dl{grid-template-columns:1fr}dt{margin-top:.5rem}}
`;
