/** Deterministic, realistic Samsara fleet data for the emulator: the same org always has the same vehicles. */

/** A vehicle as `GET /fleet/vehicles` returns it (SAMSARA.md). */
export interface EmulatedVehicle {
  id: string;
  createdAtTime: string;
  updatedAtTime?: string;
  name?: string;
  vin?: string;
  make?: string;
  model?: string;
  year?: string;
  licensePlate?: string;
  serial?: string;
  esn?: string;
  gateway?: { model: string; serial: string };
  tags?: Array<{ id: string; name: string; parentTagId?: string }>;
  staticAssignedDriver?: { id: string; name: string };
  vehicleType?: string;
  vehicleRegulationMode?: string;
  notes?: string;
  externalIds?: Record<string, string>;
}

const MAKES: Array<[string, string[]]> = [
  ['Freightliner', ['Cascadia', 'M2 106']],
  ['Kenworth', ['T680', 'W900']],
  ['Peterbilt', ['579', '389']],
  ['Volvo', ['VNL 860', 'VNR 640']],
  ['Ford', ['F-150', 'Transit 250']],
  ['International', ['LT625', 'MV607']],
];
const TAGS = [
  { id: '3914', name: 'East Region', parentTagId: '3900' },
  { id: '3915', name: 'West Region', parentTagId: '3900' },
  { id: '4120', name: 'Refrigerated' },
];
const DRIVERS = ['Ana Ruiz', 'Ben Okafor', 'Chen Wei', 'Dana Fox', 'Eli Novak', 'Farah Haddad'];
const VIN_CHARS = 'ABCDEFGHJKLMNPRSTUVWXYZ0123456789';

/** The vehicles of one organization, generated from its id. */
export function vehiclesOf(orgId: string, count: number): EmulatedVehicle[] {
  const random = prng(orgId);
  const pick = <T>(items: ArrayLike<T>): T => items[Math.floor(random() * items.length)];
  const base = Date.UTC(2021, 0, 4);
  return Array.from({ length: count }, (_, i) => {
    const created = base + Math.floor(random() * 3 * 365 * 86_400_000);
    const id = String(212_014_918_000_000 + i * 1_733 + Math.floor(random() * 1_000));
    const vehicle: EmulatedVehicle = { id, createdAtTime: new Date(created).toISOString() };
    if (i % 25 === 24) return vehicle; // some vehicles carry nothing but the required fields
    const [make, models] = pick(MAKES);
    const serial = Array.from({ length: 10 }, () => pick(VIN_CHARS.slice(0, 23))).join('');
    Object.assign(vehicle, {
      name: `Fleet Truck #${i + 1}`,
      vin: Array.from({ length: 17 }, () => pick(VIN_CHARS)).join(''),
      make,
      model: pick(models),
      year: String(2015 + Math.floor(random() * 11)),
      licensePlate: `${pick(VIN_CHARS.slice(0, 23))}${pick(VIN_CHARS.slice(0, 23))}${String(1000 + i).slice(-4)}`,
      serial: `G${serial.slice(0, 3)}-${serial.slice(3, 6)}-${serial.slice(6, 9)}`,
      gateway: { model: 'VG54NA', serial: `G${serial.slice(0, 3)}-${serial.slice(3, 6)}-${serial.slice(6, 9)}` },
      updatedAtTime: new Date(created + Math.floor(random() * 30 * 86_400_000)).toISOString(),
      vehicleType: make === 'Ford' ? 'passenger' : 'truck',
      vehicleRegulationMode: make === 'Ford' ? 'unregulated' : 'regulated',
    });
    if (i % 3 === 0) vehicle.tags = [pick(TAGS)];
    if (i % 4 === 1) vehicle.staticAssignedDriver = { id: String(52_000 + (i % DRIVERS.length)), name: DRIVERS[i % DRIVERS.length] };
    return vehicle;
  });
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
