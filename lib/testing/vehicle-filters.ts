import { EMULATED_ATTRIBUTES, EMULATED_TAGS } from './fleet-catalog.js';
import type { EmulatedVehicle } from './fleet.js';
import { Refusal, apiError } from './replies.js';

// The filters of GET /fleet/vehicles, read as Samsara documents them:
//
// - `tagIds`, `parentTagIds`: comma-separated (or repeated) ids; a parent tag stands for itself and
//   every tag below it. Together they make one set of tags, and a vehicle with any of them matches
//   (their union: Samsara does not say how the two combine; a union never hides a vehicle a client
//   asked for by either).
// - `attributeValueIds`: comma-separated (or repeated) ids; a vehicle must carry every one of them.
// - `attributes`: repeated, each `Name:value` or `Name:range(lo,hi)` (numbers, bounds inclusive, one
//   may be empty); a vehicle must meet every one.
// - `createdAfterTime`, `updatedAfterTime`: RFC 3339; "after or equal". A vehicle never updated was
//   last updated when it was created.
//
// Different filters combine with AND. An id the catalog does not know selects nothing; a value that
// is not well formed is a 400, as Samsara answers a malformed query.

/** A parsed filter set. */
export interface VehicleFilter {
  /** The filter set in a canonical form: what a cursor is bound to. The same filters, however spelled, give the same key. */
  key: string;
  matches(vehicle: EmulatedVehicle): boolean;
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/i;
const NUMBER = /^-?\d+(\.\d+)?$/;

/** The filters of the query; throws a 400 Refusal on one that is malformed. */
export function vehicleFilter(query: URLSearchParams): VehicleFilter {
  const tagIds = idList(query, 'tagIds');
  const parentTagIds = idList(query, 'parentTagIds');
  const valueIds = idList(query, 'attributeValueIds');
  const conditions = query.getAll('attributes').map(attributeCondition);
  const createdAfter = time(query, 'createdAfterTime');
  const updatedAfter = time(query, 'updatedAfterTime');

  const tags = new Set([...tagIds, ...parentTagIds.flatMap(withDescendants)]);
  const wantsTags = tagIds.length + parentTagIds.length > 0;
  const values = valueIds.map(attributeValue);
  const key = JSON.stringify([
    tagIds,
    parentTagIds,
    valueIds,
    conditions.map((c) => c.key).sort(),
    createdAfter,
    updatedAfter,
  ]);
  return {
    key,
    matches(vehicle) {
      if (wantsTags && !vehicle.tags?.some((t) => tags.has(t.id))) return false;
      if (!values.every((v) => v !== undefined && stringValuesOf(vehicle, v.attribute).includes(v.value))) return false;
      if (!conditions.every((c) => c.matches(vehicle))) return false;
      if (createdAfter !== undefined && Date.parse(vehicle.createdAtTime) < createdAfter) return false;
      const updated = vehicle.updatedAtTime ?? vehicle.createdAtTime;
      return updatedAfter === undefined || Date.parse(updated) >= updatedAfter;
    },
  };
}

function badRequest(message: string): Refusal {
  return new Refusal(apiError(400, message));
}

/** Comma-separated, repeated, or both; sorted and unique, so that the cursor key ignores spelling. */
function idList(query: URLSearchParams, name: string): string[] {
  const ids = query.getAll(name).flatMap((value) => value.split(','));
  return [...new Set(ids.map((id) => id.trim()).filter((id) => id !== ''))].sort();
}

function time(query: URLSearchParams, name: string): number | undefined {
  const values = query.getAll(name);
  if (values.length > 1) throw badRequest(`${name} is repeated.`);
  if (values.length === 0) return undefined;
  const ms = RFC3339.test(values[0]) ? Date.parse(values[0]) : NaN;
  if (Number.isNaN(ms)) {
    // The likeliest cause by far: an offset's `+` sent unencoded, which a query decodes as a space.
    const hint = values[0].includes(' ') ? ' (a + in a query string must be sent as %2B)' : '';
    throw badRequest(`${name} must be an RFC 3339 time such as 2019-06-13T19:08:25.455Z${hint}.`);
  }
  return ms;
}

function withDescendants(tagId: string): string[] {
  const below = EMULATED_TAGS.filter((t) => t.parentTagId === tagId).flatMap((t) => withDescendants(t.id));
  return [tagId, ...below];
}

function attributeValue(valueId: string): { attribute: string; value: string } | undefined {
  for (const attribute of EMULATED_ATTRIBUTES) {
    const value = attribute.values.find((v) => v.id === valueId);
    if (value) return { attribute: attribute.id, value: value.stringValue };
  }
  return undefined;
}

function stringValuesOf(vehicle: EmulatedVehicle, attributeId: string): string[] {
  return vehicle.attributes?.find((a) => a.id === attributeId)?.stringValues ?? [];
}

interface Condition {
  key: string;
  matches(vehicle: EmulatedVehicle): boolean;
}

/** `Name:value` or `Name:range(lo,hi)`; the name ends at the first colon. */
function attributeCondition(text: string): Condition {
  const colon = text.indexOf(':');
  if (colon <= 0) throw badRequest(`attributes must be Name:value or Name:range(lo,hi), not ${JSON.stringify(text)}.`);
  const name = text.slice(0, colon);
  const value = text.slice(colon + 1);
  const named = (vehicle: EmulatedVehicle) => vehicle.attributes?.find((a) => a.name === name);
  const range = /^range\((.*),(.*)\)$/.exec(value);
  if (!range) {
    return {
      key: JSON.stringify([name, value]),
      matches: (vehicle) => {
        const attribute = named(vehicle);
        const asNumber = NUMBER.test(value) ? Number(value) : NaN;
        return (
          !!attribute && (!!attribute.stringValues?.includes(value) || !!attribute.numberValues?.includes(asNumber))
        );
      },
    };
  }
  const [low, high] = [range[1], range[2]].map((bound) => bound.trim());
  if ((low === '' && high === '') || ![low, high].every((bound) => bound === '' || NUMBER.test(bound))) {
    // Samsara also takes date ranges; the emulated fleets have no date attributes to compare them with.
    throw badRequest(`attributes ${JSON.stringify(text)}: a range needs at least one bound, and numbers as bounds.`);
  }
  const min = low === '' ? -Infinity : Number(low);
  const max = high === '' ? Infinity : Number(high);
  return {
    key: JSON.stringify([name, min, max]),
    matches: (vehicle) => !!named(vehicle)?.numberValues?.some((n) => n >= min && n <= max),
  };
}
