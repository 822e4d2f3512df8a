// The pages' one HTML toolkit: escaping, the shared layout, the stylesheet and the icon. Every
// piece of data that reaches a page goes through escapeHTML; nothing else builds markup from data.
import type { Brand } from './brand.js';

/** Text made safe for HTML element content and quoted attribute values. */
export function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** What every page shares: where the app is mounted, for its links, and your brand. */
export interface PageContext {
  /** The mount point (`req.baseUrl`): '' at the root, else '/integrations/samsara'. */
  base: string;
  brand: Brand;
}

/**
 * One page: a header with your product (its logo, its name, a link back to it), a main region,
 * the stylesheet the app serves itself (the Content-Security-Policy allows no inline style or
 * script) and then yours. `body` is markup the caller built with escapeHTML.
 */
export function layout(context: PageContext, title: string, body: string): string {
  const base = escapeHTML(context.base);
  const { brand } = context;
  const logo = brand.logo ? `<img class="logo" src="${escapeHTML(brand.logo)}" alt="" height="32">` : '';
  const home = brand.home
    ? `<a class="home" id="brand-home" href="${escapeHTML(brand.home.href)}">${escapeHTML(brand.home.label)}</a>`
    : '';
  const stylesheet = brand.stylesheet ? `\n<link rel="stylesheet" href="${escapeHTML(brand.stylesheet)}">` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHTML(title)} · ${escapeHTML(brand.title)}</title>
<link rel="icon" href="${base}/favicon.ico" type="image/svg+xml">
<link rel="stylesheet" href="${base}/app.css">${stylesheet}
</head><body>
<header><a class="brand" href="${base}/">${logo}<span>${escapeHTML(brand.title)}</span></a>${home}</header>
<main id="main">
<h1>${escapeHTML(title)}</h1>
${body}
</main>
</body></html>`;
}

/**
 * Served at `/favicon.ico` (as SVG, which browsers take there): a browser asks for it on every
 * page of a standalone app, and a 404 per page view fills logs.
 */
export const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0b5cad"/><path d="M9 21.5c1.6 1.4 3.9 2.2 6.6 2.2 3.7 0 6.2-1.8 6.2-4.6 0-2.5-1.7-3.6-5.3-4.4-2.4-.5-3.2-1-3.2-2 0-1 1-1.7 2.6-1.7 1.6 0 3 .5 4.2 1.4l1.7-2.6c-1.5-1.2-3.5-1.9-5.8-1.9-3.6 0-6 1.9-6 4.7 0 2.6 1.8 3.7 5.2 4.4 2.4.5 3.3 1 3.3 2 0 1.1-1 1.7-2.8 1.7-2 0-3.7-.7-5-1.9z" fill="#fff"/></svg>`;

/** Served at `/app.css`: small, readable on a phone, with visible focus and enough contrast. */
export const STYLESHEET = `:root{color-scheme:light;--ink:#1b1f24;--muted:#57606a;--line:#d0d7de;--accent:#0b5cad;--bad:#a40e26;--bg:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#fff;border-bottom:1px solid var(--line);padding:.75rem 1rem;display:flex;align-items:center;justify-content:space-between;gap:1rem;flex-wrap:wrap}
.brand{font-weight:600;color:var(--ink);text-decoration:none;display:inline-flex;align-items:center;gap:.5rem}
.logo{height:32px;width:auto}
.status{display:inline-block;font-weight:600;color:#116329;background:#dafbe1;border-radius:999px;padding:.125rem .75rem;margin:0 0 .75rem}
details{margin-top:1rem}summary{cursor:pointer;color:var(--accent)}details dl{margin-top:.75rem}
.actions{display:flex;gap:.5rem;flex-wrap:wrap;align-items:flex-start}.actions form{margin:0}
.hint{color:var(--muted);font-size:.875rem;margin:.25rem 0 0}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
h2{font-size:1.125rem;margin:0 0 .75rem}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem;margin:0 0 1rem}
.card>:first-child{margin-top:0}.card>:last-child{margin-bottom:0}
.home{color:var(--accent)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
.button{display:inline-block;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:6px;padding:.5rem 1rem;font:inherit;text-decoration:none;cursor:pointer}
.button.secondary{background:#fff;color:var(--accent)}
.button.danger{background:#fff;color:var(--bad);border-color:var(--bad)}
a:focus-visible,.button:focus-visible,summary:focus-visible{outline:3px solid #f2b600;outline-offset:2px}
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
