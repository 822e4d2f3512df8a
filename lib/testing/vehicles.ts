import { createHmac } from 'node:crypto';
import { vehiclesOf, type EmulatedVehicle } from './fleet.js';
import type { EmulatorOrganization } from './options.js';
import { Refusal, apiError, json, type Reply } from './replies.js';
import type { EmulatorState } from './state.js';
import { vehicleFilter } from './vehicle-filters.js';

// GET /fleet/vehicles (Samsara's cursor pagination over the organization's generated fleet, through
// its filters) and GET /fleet/vehicles/{id}.

const MAX_PAGE = 512;

/** One page of the organization's vehicles that pass the query's filters; the caller has checked the token. */
export function vehicles(state: EmulatorState, url: URL, org: EmulatorOrganization): Reply {
  const limitParam = url.searchParams.get('limit');
  const limit = limitParam === null ? MAX_PAGE : /^\d+$/.test(limitParam) ? Number(limitParam) : NaN;
  if (!(limit >= 1 && limit <= MAX_PAGE))
    throw new Refusal(apiError(400, `limit must be a whole number from 1 to ${MAX_PAGE}.`));
  const filter = vehicleFilter(url.searchParams);
  // Filtering the whole fleet on every page keeps cursors plain offsets: the fleet never changes,
  // so the same filters give the same list, and an offset into it stays valid.
  const selected = fleetOf(state, org).filter((v) => filter.matches(v));
  const scope = `${org.id}:${filter.key}`;
  const after = url.searchParams.get('after');
  const offset = after ? offsetOf(state.cursorKey, after, scope, selected.length) : 0;
  if (offset === undefined) {
    throw new Refusal(apiError(400, 'after is not a cursor this endpoint handed out for these filters.'));
  }
  const end = Math.min(offset + limit, selected.length);
  const hasNextPage = end < selected.length;
  return json(200, {
    data: selected.slice(offset, end),
    // '' on the last page: the official SDK's pager stops on an empty endCursor, never reading hasNextPage.
    pagination: { endCursor: hasNextPage ? cursorFor(state.cursorKey, scope, end) : '', hasNextPage },
  });
}

/**
 * One vehicle of the organization, by Samsara id or by external id (`key:value`, such as
 * `maintenanceId:MX-10002`, or `samsara.vin:…` and `samsara.serial:…`). An id of another
 * organization's vehicle is as unknown as one nobody has: a 404.
 */
export function vehicle(state: EmulatorState, encodedId: string, org: EmulatorOrganization): Reply {
  const id = decoded(encodedId);
  const found = id === undefined ? undefined : fleetOf(state, org).find(identifiedBy(id));
  if (!found) throw new Refusal(apiError(404, 'No vehicle with this id in your organization.'));
  return json(200, { data: found });
}

function identifiedBy(id: string): (vehicle: EmulatedVehicle) => boolean {
  const colon = id.indexOf(':');
  if (colon < 0) return (vehicle) => vehicle.id === id;
  const [key, value] = [id.slice(0, colon), id.slice(colon + 1)];
  if (key === 'samsara.vin') return (vehicle) => vehicle.vin === value;
  if (key === 'samsara.serial') return (vehicle) => vehicle.serial === value;
  return (vehicle) =>
    vehicle.externalIds !== undefined && Object.hasOwn(vehicle.externalIds, key) && vehicle.externalIds[key] === value;
}

/** A path segment decoded, or undefined when its percent-encoding is malformed (then no vehicle has it). */
function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Generated on first use: most tests never list vehicles. */
function fleetOf(state: EmulatorState, org: EmulatorOrganization): EmulatedVehicle[] {
  let fleet = state.fleets.get(org.id);
  if (!fleet) {
    fleet = vehiclesOf(org.id, org.vehicleCount ?? 1200);
    state.fleets.set(org.id, fleet);
  }
  return fleet;
}

// A cursor is the offset and a MAC over organization, filters and offset, so only cursors this
// instance handed out for this organization and these filters are accepted: a cursor of one filter
// set would page another from a meaningless place. A different `limit` is fine.

function cursorMac(key: Buffer, scope: string, offset: number): string {
  return createHmac('sha256', key).update(`${scope}:${offset}`).digest('base64url').slice(0, 16);
}

function cursorFor(key: Buffer, scope: string, offset: number): string {
  return Buffer.from(`${offset}:${cursorMac(key, scope, offset)}`).toString('base64url');
}

function offsetOf(key: Buffer, cursor: string, scope: string, size: number): number | undefined {
  if (!/^[\w-]+$/.test(cursor)) return undefined;
  const [digits, mac] = Buffer.from(cursor, 'base64url').toString('latin1').split(':');
  const offset = Number(digits);
  return /^\d+$/.test(digits) && offset < size && mac === cursorMac(key, scope, offset) ? offset : undefined;
}
