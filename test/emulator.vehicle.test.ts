import { expect } from 'chai';
import { startSamsaraEmulator, type EmulatedVehicle, type SamsaraEmulator } from 'passport-samsara/testing';
import { api } from './support/raw-oauth.js';

describe('Samsara emulator: GET /fleet/vehicles/{id}', () => {
  let emulator: SamsaraEmulator;
  let token: string;
  let fleet: EmulatedVehicle[];

  before(async () => {
    emulator = await startSamsaraEmulator({
      organizations: [
        { id: '1001', name: "Charlie's Dining Services", vehicleCount: 30 },
        { id: '2002', name: 'Acme Freight', vehicleCount: 30 },
      ],
      vehiclesRateLimit: 1_000,
    });
    token = emulator.issueGrant('1001').accessToken;
    fleet = (await api(emulator, '/fleet/vehicles', token)).body.data;
  });
  after(() => emulator.stop());

  it('answers { data: Vehicle }, the vehicle as the list has it, sparse ones too', async () => {
    const sparse = fleet.find((v) => v.name === undefined);
    expect(sparse, 'the fleet has a vehicle with only the required fields').to.not.equal(undefined);
    for (const vehicle of [fleet[0], fleet[17], sparse!]) {
      const res = await api(emulator, `/fleet/vehicles/${vehicle.id}`, token);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(res.body).to.deep.equal({ data: vehicle });
    }
    expect((await api(emulator, `/fleet/vehicles/${fleet[3].id}/`, token)).body.data.id).to.equal(fleet[3].id);
  });

  it('finds a vehicle by external id, key:value, the colon sent as is or encoded', async () => {
    const withExternal = fleet.find((v) => v.externalIds?.maintenanceId !== undefined)!;
    const maintenanceId = withExternal.externalIds!.maintenanceId;
    const full = fleet[1];
    for (const id of [
      `maintenanceId:${maintenanceId}`,
      `maintenanceId%3A${encodeURIComponent(maintenanceId)}`,
      `samsara.vin:${full.vin!}`,
      `samsara.serial:${full.serial!}`,
    ]) {
      const res = await api(emulator, `/fleet/vehicles/${id}`, token);
      expect(res.status, id).to.equal(200);
      expect(res.body.data.id, id).to.equal(id.includes('maintenanceId') ? withExternal.id : full.id);
    }
    for (const id of ['maintenanceId:MX-0', 'toString:x', 'samsara.vin:', 'constructor:x']) {
      expect((await api(emulator, `/fleet/vehicles/${id}`, token)).status, id).to.equal(404);
    }
  });

  it("answers 404 in Samsara's error shape for an unknown id and for another organization's vehicle", async () => {
    const otherToken = emulator.issueGrant('2002').accessToken;
    const theirs: EmulatedVehicle[] = (await api(emulator, '/fleet/vehicles', otherToken)).body.data;
    const ours = new Set(fleet.map((v) => v.id));
    expect(
      theirs.some((v) => ours.has(v.id)),
      'organizations do not share vehicle ids',
    ).to.equal(false);
    expect((await api(emulator, `/fleet/vehicles/${theirs[0].id}`, otherToken)).status).to.equal(200);
    const requestIds = new Set<string>();
    for (const id of [theirs[0].id, '1', 'no-such-vehicle', '%E0%A4%A']) {
      const res = await api(emulator, `/fleet/vehicles/${id}`, token);
      expect(res.status, id).to.equal(404);
      expect(Object.keys(res.body).sort(), id).to.deep.equal(['message', 'requestId']);
      requestIds.add(res.body.requestId);
    }
    expect(requestIds.size).to.equal(4);
  });

  it('asks for a live token first, allows only GET, and knows no deeper path', async () => {
    expect((await api(emulator, `/fleet/vehicles/${fleet[0].id}`)).status).to.equal(401);
    expect((await api(emulator, `/fleet/vehicles/${fleet[0].id}`, 'not-a-token')).status).to.equal(401);
    const patch = await fetch(`${emulator.baseURL}/fleet/vehicles/${fleet[0].id}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}` },
    });
    expect([patch.status, patch.headers.get('allow')]).to.deep.equal([405, 'GET']);
    expect((await api(emulator, `/fleet/vehicles/${fleet[0].id}/tags`, token)).status).to.equal(404);
  });
});
