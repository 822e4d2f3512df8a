import { createHmac } from 'node:crypto';
import { vehiclesOf } from './fleet.js';
import type { EmulatorOrganization } from './options.js';
import { Refusal, apiError, json, type Reply } from './replies.js';
import type { EmulatorState } from './state.js';

// GET /fleet/vehicles: Samsara's cursor pagination over the organization's generated fleet.

const MAX_PAGE = 512;

/** One page of the organization's vehicles; the caller has checked the token. */
export function vehicles(state: EmulatorState, url: URL, org: EmulatorOrganization): Reply {
  const limitParam = url.searchParams.get('limit');
  const limit = limitParam === null ? MAX_PAGE : /^\d+$/.test(limitParam) ? Number(limitParam) : NaN;
  if (!(limit >= 1 && limit <= MAX_PAGE))
    throw new Refusal(apiError(400, `limit must be a whole number from 1 to ${MAX_PAGE}.`));
  let fleet = state.fleets.get(org.id);
  if (!fleet) {
    fleet = vehiclesOf(org.id, org.vehicleCount ?? 1200);
    state.fleets.set(org.id, fleet);
  }
  const after = url.searchParams.get('after');
  const offset = after ? offsetOf(state.cursorKey, after, org.id, fleet.length) : 0;
  if (offset === undefined) throw new Refusal(apiError(400, 'after is not a cursor this endpoint handed out.'));
  const end = Math.min(offset + limit, fleet.length);
  const hasNextPage = end < fleet.length;
  return json(200, {
    data: fleet.slice(offset, end),
    pagination: { endCursor: hasNextPage ? cursorFor(state.cursorKey, org.id, end) : '', hasNextPage },
  });
}

// A cursor is the offset and a MAC over organization and offset, so only cursors this instance
// handed out for this organization are accepted.

function cursorMac(key: Buffer, orgId: string, offset: number): string {
  return createHmac('sha256', key).update(`${orgId}:${offset}`).digest('base64url').slice(0, 16);
}

function cursorFor(key: Buffer, orgId: string, offset: number): string {
  return Buffer.from(`${offset}:${cursorMac(key, orgId, offset)}`).toString('base64url');
}

function offsetOf(key: Buffer, cursor: string, orgId: string, size: number): number | undefined {
  if (!/^[\w-]+$/.test(cursor)) return undefined;
  const [digits, mac] = Buffer.from(cursor, 'base64url').toString('latin1').split(':');
  const offset = Number(digits);
  return /^\d+$/.test(digits) && offset < size && mac === cursorMac(key, orgId, offset) ? offset : undefined;
}
