export {
  startSamsaraEmulator,
  EMULATOR_CLIENT_ID,
  EMULATOR_CLIENT_SECRET,
} from './emulator.js';
export type {
  SamsaraEmulator,
  EmulatorOptions,
  EmulatorClient,
  EmulatorOrganization,
  EmulatorEndpoint,
  EmulatorFault,
  EmulatorCounters,
  IssuedGrant,
} from './emulator.js';
export type { EmulatedVehicle } from './fleet.js';
