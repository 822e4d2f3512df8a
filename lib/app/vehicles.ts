import type { Request, RequestHandler } from 'express';
import { BadResponseError, ReauthorizationRequiredError, UpstreamError } from '../errors/index.js';
import type { Brand } from './brand.js';
import { escapeHTML, layout } from './html.js';
import { AppFailure } from './failure-kinds.js';
import { servedOf } from './account.js';

/** Samsara's cursors are opaque base64-like strings; anything else in the URL is refused unsent. */
const CURSOR = /^[A-Za-z0-9_\-+/=.~]{1,512}$/;
/** The Back trail kept in the URL: enough for any browsing, short enough for any URL limit. */
const MAX_TRAIL = 20;

interface Vehicle {
  id: string;
  name?: unknown;
  vin?: unknown;
  make?: unknown;
  model?: unknown;
  year?: unknown;
  licensePlate?: unknown;
}

/** Where a page sits: its cursor, the cursors of the pages before it (for Back), its number. */
interface Position {
  after?: string;
  trail: string[];
  page: number;
}

/**
 * The vehicles page: one page of `GET /fleet/vehicles`, paged with Samsara's `after` cursor. The
 * URL carries the cursor, the page number and a bounded trail of earlier cursors, so Next and Back
 * need no server-side state and work in any tab.
 */
export function vehiclesPage(pageSize: number, brand: Brand): RequestHandler {
  return async (req, res) => {
    const base = req.baseUrl;
    if (!servedOf(req).connection) {
      res.redirect(303, `${base}/`);
      return;
    }
    const at = positionOf(req);
    const query = new URLSearchParams({ limit: String(pageSize) });
    if (at.after) query.set('after', at.after);
    const response = await req.samsara.fetch(`/fleet/vehicles?${query.toString()}`, {
      headers: { accept: 'application/json' },
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw apiFailure(response.status, req.samsara.key ?? '');
    }
    const { vehicles, endCursor, hasNextPage } = parsePage(await response.text());
    const first = (at.page - 1) * pageSize + 1;
    const caption =
      vehicles.length === 0 ? 'No vehicles' : `Vehicles ${first}–${first + vehicles.length - 1} (page ${at.page})`;
    const rows = vehicles
      .map(
        (v) =>
          `<tr>${nameCell(v)}${cell(v.vin, true)}${cell([v.make, v.model].filter(isText).join(' '))}${cell(v.year, true)}${cell(v.licensePlate, true)}</tr>`,
      )
      .join('\n');
    const table =
      vehicles.length === 0
        ? `<div class="card" id="empty"><p>${at.page === 1 ? 'This organization has no vehicles in Samsara yet. Vehicles added in Samsara appear here.' : 'There are no more vehicles.'}</p></div>`
        : `<p id="count">${vehicles.length} vehicle${vehicles.length === 1 ? '' : 's'} on this page.</p>
<div class="table-wrap"><table id="vehicles"><caption>${caption}</caption>
<thead><tr><th scope="col">Name</th><th scope="col" class="hide-narrow">VIN</th><th scope="col">Make and model</th><th scope="col" class="hide-narrow">Year</th><th scope="col" class="hide-narrow">Plate</th></tr></thead>
<tbody>
${rows}
</tbody></table></div>`;
    const previous = back(at);
    const links = [
      previous &&
        `<a class="button secondary" id="back" rel="prev" href="${escapeHTML(link(base, previous))}">Back</a>`,
      hasNextPage &&
        endCursor &&
        `<a class="button" id="next" rel="next" href="${escapeHTML(link(base, next(at, endCursor)))}">Next</a>`,
      at.page > 2 && `<a class="button secondary" id="first" href="${escapeHTML(base)}/vehicles">First page</a>`,
    ].filter(Boolean);
    res.set('Cache-Control', 'no-store');
    res
      .type('html')
      .send(
        layout(
          { base, brand },
          'Vehicles',
          `${table}\n<nav class="pager" aria-label="Pages">${links.join('')}</nav>\n<p><a href="${escapeHTML(base)}/">Back to the connection</a></p>`,
        ),
      );
  };
}

/** What a vehicle without a value for a column shows: a dash, so that the row never reads as blank. */
const NONE = '<span class="muted" title="not set">—</span>';

function isText(value: unknown): boolean {
  return (typeof value === 'string' && value.trim() !== '') || (typeof value === 'number' && Number.isFinite(value));
}

function cell(value: unknown, narrow = false): string {
  return `<td${narrow ? ' class="hide-narrow"' : ''}>${isText(value) ? escapeHTML(String(value)) : NONE}</td>`;
}

/** Its name, or (a vehicle Samsara knows by id only) its id, marked as such. */
function nameCell(vehicle: Vehicle): string {
  if (isText(vehicle.name)) return `<td>${escapeHTML(String(vehicle.name))}</td>`;
  return `<td><span class="muted">Vehicle</span> <code>${escapeHTML(vehicle.id)}</code></td>`;
}

function positionOf(req: Request): Position {
  const { after, trail, page } = req.query as Record<string, unknown>;
  const cursors = typeof trail === 'string' && trail !== '' ? trail.split(',') : [];
  const number = typeof page === 'string' ? Number(page) : 1;
  const valid =
    (after === undefined || (typeof after === 'string' && CURSOR.test(after))) &&
    (trail === undefined || typeof trail === 'string') &&
    cursors.length <= MAX_TRAIL &&
    cursors.every((c) => CURSOR.test(c)) &&
    Number.isSafeInteger(number) &&
    number >= 1 &&
    (after === undefined) === (number === 1);
  if (!valid) throw new AppFailure('bad-request');
  return { ...(typeof after === 'string' ? { after } : {}), trail: cursors, page: number };
}

function next(at: Position, endCursor: string): Position {
  const trail = at.after ? [...at.trail, at.after].slice(-MAX_TRAIL) : [];
  return { after: endCursor, trail, page: at.page + 1 };
}

/** The page before, when the trail still knows its cursor (page 1 needs none). */
function back(at: Position): Position | undefined {
  if (at.page === 2) return { trail: [], page: 1 };
  const previous = at.trail.at(-1);
  return previous === undefined ? undefined : { after: previous, trail: at.trail.slice(0, -1), page: at.page - 1 };
}

function link(base: string, at: Position): string {
  if (!at.after) return `${base}/vehicles`;
  const query = new URLSearchParams({ after: at.after, page: String(at.page) });
  if (at.trail.length) query.set('trail', at.trail.join(','));
  return `${base}/vehicles?${query.toString()}`;
}

/** An answer of the API that is not a page of vehicles, as the failure it is. */
function apiFailure(status: number, key: string): Error {
  // callSamsara already refreshed once after a 401: the grant is gone.
  if (status === 401) return new ReauthorizationRequiredError('Samsara refused the refreshed access token', { key });
  // An expired or foreign cursor.
  if (status === 400 || status === 404) return new AppFailure('bad-request');
  return new UpstreamError(`Samsara's /fleet/vehicles answered HTTP ${status}.`, {
    code: 'SAMSARA_UPSTREAM',
    upstreamStatus: status,
  });
}

function parsePage(text: string): { vehicles: Vehicle[]; endCursor?: string; hasNextPage: boolean } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadResponseError("Samsara's /fleet/vehicles answered with something other than JSON.");
  }
  const { data, pagination } = (body ?? {}) as {
    data?: unknown;
    pagination?: { endCursor?: unknown; hasNextPage?: unknown };
  };
  if (!Array.isArray(data)) throw new BadResponseError("Samsara's /fleet/vehicles answered without a data list.");
  const vehicles = data.filter(
    (v): v is Vehicle => typeof v === 'object' && v !== null && typeof (v as { id?: unknown }).id === 'string',
  );
  const endCursor =
    typeof pagination?.endCursor === 'string' && CURSOR.test(pagination.endCursor) ? pagination.endCursor : undefined;
  return { vehicles, ...(endCursor ? { endCursor } : {}), hasNextPage: pagination?.hasNextPage === true };
}
