import { EMULATED_ATTRIBUTES, EMULATED_TAGS, type EmulatedTag } from './fleet-catalog.js';

// Deterministic, realistic fleet data for the emulator: the same organization id always yields the
// same vehicles, so a test can assert on "Fleet Truck #1" across runs and machines.

/**
 * A vehicle as the emulator's `GET /fleet/vehicles` returns it: Samsara's Vehicle object, where only
 * `id` and `createdAtTime` are always present.
 *
 * @example
 * ```ts
 * import type { EmulatedVehicle } from 'passport-samsara/testing';
 *
 * const res = await fetch(`${samsara.baseURL}/fleet/vehicles?limit=10`, { headers: { authorization: `Bearer ${token}` } });
 * const { data } = (await res.json()) as { data: EmulatedVehicle[] };
 * console.log(data[0].name); // "Fleet Truck #1"
 * ```
 */
export interface EmulatedVehicle {
  id: string;
  /** RFC 3339. */
  createdAtTime: string;
  /** RFC 3339. */
  updatedAtTime?: string;
  name?: string;
  vin?: string;
  make?: string;
  model?: string;
  /** A string, as Samsara sends it. */
  year?: string;
  licensePlate?: string;
  serial?: string;
  esn?: string;
  gateway?: { model: string; serial: string };
  tags?: EmulatedTag[];
  /** Samsara's tiny attribute shape: a string attribute's values by value, not by value id. */
  attributes?: Array<{ id: string; name: string; stringValues?: string[]; numberValues?: number[] }>;
  staticAssignedDriver?: { id: string; name: string };
  vehicleType?: string;
  vehicleRegulationMode?: string;
  notes?: string;
  externalIds?: Record<string, string>;
}

const MAKES: Array<[make: string, models: string[]]> = [
  ['Freightliner', ['Cascadia', 'M2 106']],
  ['Kenworth', ['T680', 'W900']],
  ['Peterbilt', ['579', '389']],
  ['Volvo', ['VNL 860', 'VNR 640']],
  ['Ford', ['F-150', 'Transit 250']],
  ['International', ['LT625', 'MV607']],
];
const tag = (id: string): EmulatedTag => EMULATED_TAGS.find((t) => t.id === id) as EmulatedTag;
const [EAST, WEST, BAY_AREA, REFRIGERATED] = ['3914', '3915', '3921', '4120'].map(tag);
const [OWNERSHIP, HOME_DEPOT, EQUIPMENT, FUEL] = EMULATED_ATTRIBUTES;
const DRIVERS = ['Ana Ruiz', 'Ben Okafor', 'Chen Wei', 'Dana Fox', 'Eli Novak', 'Farah Haddad'];
const LETTERS = 'ABCDEFGHJKLMNPRSTUVWXYZ'; // VINs never use I, O or Q
const VIN_CHARS = `${LETTERS}0123456789`;
const DAY = 86_400_000;

/**
 * The first `count` vehicles of an organization, generated from its id.
 *
 * @example
 * ```ts
 * vehiclesOf('1001', 2).map((v) => v.name); // ['Fleet Truck #1', 'Fleet Truck #2']
 * ```
 */
export function vehiclesOf(orgId: string, count: number): EmulatedVehicle[] {
  const random = prng(orgId);
  // Tags and attributes draw from a stream of their own, so the fields above them stay what they were.
  const extra = prng(`${orgId}#extras`);
  const pick = <T>(items: ArrayLike<T>): T => items[Math.floor(random() * items.length)];
  const chars = (alphabet: string, length: number): string => Array.from({ length }, () => pick(alphabet)).join('');
  const base = Date.UTC(2021, 0, 4);
  const range = idRange(orgId);
  return Array.from({ length: count }, (_, i) => {
    const created = base + Math.floor(random() * 3 * 365 * DAY);
    // Steps wider than the random part keep ids unique and ascending, as Samsara's are; the
    // organization's own range keeps them (all but surely) apart from other organizations' ids.
    const id = String(212_014_918_000_000 + range + i * 1_733 + Math.floor(random() * 1_000));
    const vehicle: EmulatedVehicle = { id, createdAtTime: rfc3339(created) };
    // Some vehicles carry nothing but the required fields, so clients meet the sparse shape early.
    if (i % 25 === 24) return vehicle;
    const [make, models] = pick(MAKES);
    const serial = `G${chars(LETTERS, 3)}-${chars(LETTERS, 3)}-${chars(LETTERS, 3)}`;
    const light = make === 'Ford';
    Object.assign(vehicle, {
      name: `Fleet Truck #${i + 1}`,
      vin: chars(VIN_CHARS, 17),
      make,
      model: pick(models),
      year: String(2015 + Math.floor(random() * 11)),
      licensePlate: `${chars(LETTERS, 2)}${String(1000 + i).slice(-4)}`,
      serial,
      gateway: { model: i % 7 === 0 ? 'VG34' : 'VG54NA', serial },
      updatedAtTime: rfc3339(created + Math.floor(random() * 30 * DAY)),
      vehicleType: light ? 'passenger' : 'truck',
      vehicleRegulationMode: light ? 'unregulated' : 'regulated',
    });
    if (i % 7 === 0) vehicle.esn = String(4_412_000_000 + i);
    if (i % 3 === 0) vehicle.tags = [pick([EAST, WEST, REFRIGERATED])];
    if (vehicle.tags?.[0] === WEST && extra() < 0.5) vehicle.tags = [BAY_AREA];
    if (i % 10 === 5 && !vehicle.tags?.includes(REFRIGERATED)) vehicle.tags = [...(vehicle.tags ?? []), REFRIGERATED];
    if (vehicle.tags) vehicle.tags = vehicle.tags.map((t) => ({ ...t })); // the catalog stays out of reach
    vehicle.attributes = attributesOf(i, light, extra);
    if (i % 4 === 1)
      vehicle.staticAssignedDriver = { id: String(52_000 + (i % DRIVERS.length)), name: DRIVERS[i % DRIVERS.length] };
    if (i % 5 === 2) vehicle.externalIds = { maintenanceId: `MX-${10_000 + i}` };
    if (i % 11 === 3) vehicle.notes = 'Liftgate serviced; check tire pressure weekly.';
    return vehicle;
  });
}

/** Every full vehicle has an owner and a fuel capacity; half have a home depot; some carry equipment. */
function attributesOf(i: number, light: boolean, extra: () => number): NonNullable<EmulatedVehicle['attributes']> {
  const strings = (attribute: typeof OWNERSHIP, values: string[]) => ({
    id: attribute.id,
    name: attribute.name,
    stringValues: values,
  });
  const ownership = strings(OWNERSHIP, [extra() < 0.7 ? 'Owned' : 'Leased']);
  const capacities = light ? [25, 36] : [100, 150, 200];
  const fuel = { id: FUEL.id, name: FUEL.name, numberValues: [capacities[Math.floor(extra() * capacities.length)]] };
  const depots = HOME_DEPOT.values.map((v) => v.stringValue);
  const depot = i % 2 === 0 ? [strings(HOME_DEPOT, [depots[Math.floor(extra() * depots.length)]])] : [];
  const equipment = EQUIPMENT.values.map((v) => v.stringValue).filter(() => extra() < 0.4);
  return [ownership, ...depot, ...(equipment.length > 0 ? [strings(EQUIPMENT, equipment)] : []), fuel];
}

/** A multiple of 100 million below 10^14, from the organization id. */
function idRange(orgId: string): number {
  return Math.floor(prng(`${orgId}#ids`)() * 1_000_000) * 100_000_000;
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** mulberry32 seeded from a string: cheap, deterministic, good enough for fake fleets. */
function prng(seed: string): () => number {
  let state = 0;
  for (const ch of seed) state = (Math.imul(state, 31) + ch.charCodeAt(0)) | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
