import { expect } from 'chai';
import {
  EMULATED_ATTRIBUTES,
  startSamsaraEmulator,
  type EmulatedVehicle,
  type SamsaraEmulator,
} from 'passport-samsara/testing';
import { api } from './support/raw-oauth.js';

// The filters of GET /fleet/vehicles, over HTTP. Each filtered answer is checked against the whole
// fleet filtered here, by the rule SAMSARA.md states, so the test does not lean on generated counts.

const valueId = (attribute: string, value: string): string => {
  const found = EMULATED_ATTRIBUTES.find((a) => a.name === attribute)?.values.find((v) => v.stringValue === value);
  if (!found) throw new Error(`no ${attribute}: ${value} in the catalog`);
  return found.id;
};
const hasTag = (v: EmulatedVehicle, ...ids: string[]) => !!v.tags?.some((t) => ids.includes(t.id));
const strings = (v: EmulatedVehicle, name: string) => v.attributes?.find((a) => a.name === name)?.stringValues ?? [];
const numbers = (v: EmulatedVehicle, name: string) => v.attributes?.find((a) => a.name === name)?.numberValues ?? [];
const FUEL = 'Fuel Capacity (gal)';

describe('Samsara emulator: GET /fleet/vehicles filters', () => {
  let emulator: SamsaraEmulator;
  let token: string;
  let fleet: EmulatedVehicle[];

  before(async () => {
    // Many requests at full speed: the rate limits are another test's subject.
    emulator = await startSamsaraEmulator({ rateLimit: 10_000, orgRateLimit: 10_000, vehiclesRateLimit: 10_000 });
    token = emulator.issueGrant().accessToken;
    fleet = await walk('');
    expect(fleet).to.have.length(1200);
  });
  after(() => emulator.stop());

  /** Every vehicle the query selects, page by page, checking the pagination of each page. */
  async function walk(query: string, limit = 512): Promise<EmulatedVehicle[]> {
    const vehicles: EmulatedVehicle[] = [];
    for (let after = ''; ;) {
      const cursor = after && `&after=${encodeURIComponent(after)}`;
      const res = await api(emulator, `/fleet/vehicles?limit=${limit}${query && `&${query}`}${cursor}`, token);
      expect(res.status, `${query}: ${JSON.stringify(res.body)}`).to.equal(200);
      vehicles.push(...(res.body.data as EmulatedVehicle[]));
      const { endCursor, hasNextPage } = res.body.pagination;
      expect(endCursor === '', 'endCursor is "" exactly on the last page').to.equal(!hasNextPage);
      if (!hasNextPage) return vehicles;
      after = endCursor;
    }
  }

  /** The query's answer is the fleet filtered by `rule`: something, but not everything. */
  async function selects(query: string, rule: (v: EmulatedVehicle) => boolean): Promise<EmulatedVehicle[]> {
    const expected = fleet.filter(rule);
    expect(expected.length, `${query} is a test that selects`).to.be.within(1, fleet.length - 1);
    const got = await walk(query);
    expect(got.map((v) => v.id)).to.deep.equal(expected.map((v) => v.id));
    return got;
  }

  it('tagIds: vehicles with any of the tags, comma-separated or repeated', async () => {
    await selects('tagIds=3914', (v) => hasTag(v, '3914'));
    const both = await selects('tagIds=3914,4120', (v) => hasTag(v, '3914', '4120'));
    expect((await walk('tagIds=4120&tagIds=3914')).map((v) => v.id)).to.deep.equal(both.map((v) => v.id));
    await selects('tagIds=3915', (v) => hasTag(v, '3915')); // exact: not the Bay Area below it
    expect(await walk('tagIds=999999'), 'an unknown tag selects nothing').to.deep.equal([]);
  });

  it('parentTagIds: the tag and every tag below it, to any depth', async () => {
    const regions = await selects('parentTagIds=3900', (v) => hasTag(v, '3900', '3914', '3915', '3921'));
    expect(
      regions.some((v) => hasTag(v, '3921')),
      'Bay Area, two levels down',
    ).to.equal(true);
    const west = await selects('parentTagIds=3915', (v) => hasTag(v, '3915', '3921'));
    expect(west.length).to.be.above(fleet.filter((v) => hasTag(v, '3915')).length);
    await selects('parentTagIds=3915&tagIds=4120', (v) => hasTag(v, '3915', '3921', '4120'));
  });

  it('attributeValueIds: vehicles carrying every one of the values', async () => {
    const leased = valueId('Ownership', 'Leased');
    await selects(`attributeValueIds=${leased}`, (v) => strings(v, 'Ownership').includes('Leased'));
    const [liftgate, reefer] = [valueId('Equipment', 'Liftgate'), valueId('Equipment', 'Reefer unit')];
    const both = await selects(`attributeValueIds=${liftgate},${reefer}`, (v) =>
      ['Liftgate', 'Reefer unit'].every((e) => strings(v, 'Equipment').includes(e)),
    );
    expect(both.length).to.be.below(fleet.filter((v) => strings(v, 'Equipment').includes('Liftgate')).length);
    expect(await walk(`attributeValueIds=${liftgate},00000000-0000-4000-8000-000000000000`)).to.deep.equal([]);
  });

  it('attributes: Name:value and Name:range(lo,hi), inclusive, every condition met', async () => {
    const byValue = await selects('attributes=Ownership:Leased', (v) => strings(v, 'Ownership').includes('Leased'));
    expect(byValue).to.deep.equal(await walk(`attributeValueIds=${valueId('Ownership', 'Leased')}`));
    const name = encodeURIComponent(FUEL);
    const mid = await selects(`attributes=${name}:range(100,150)`, (v) =>
      numbers(v, FUEL).some((n) => n >= 100 && n <= 150),
    );
    expect(new Set(mid.map((v) => numbers(v, FUEL)[0]))).to.deep.equal(new Set([100, 150]));
    await selects(`attributes=${name}:range(,36)`, (v) => numbers(v, FUEL).some((n) => n <= 36));
    await selects(`attributes=${name}:200`, (v) => numbers(v, FUEL).includes(200));
    await selects(`attributes=${name}:range(150,)&attributes=Ownership:Owned&tagIds=4120`, (v) => {
      return numbers(v, FUEL).some((n) => n >= 150) && strings(v, 'Ownership').includes('Owned') && hasTag(v, '4120');
    });
  });

  it('createdAfterTime and updatedAfterTime: after or equal, with any RFC 3339 offset', async () => {
    const pivot = fleet[600];
    const created = await selects(
      `createdAfterTime=${pivot.createdAtTime}`,
      (v) => v.createdAtTime >= pivot.createdAtTime,
    );
    expect(created.map((v) => v.id)).to.include(pivot.id);
    // The same instant two hours east of UTC, its `+` encoded as a query needs it.
    const shifted = new Date(Date.parse(pivot.createdAtTime) + 2 * 3_600_000)
      .toISOString()
      .replace(/\.000Z$/, '+02:00');
    expect(await walk(`createdAfterTime=${encodeURIComponent(shifted)}`)).to.deep.equal(created);
    const updated = (v: EmulatedVehicle) => v.updatedAtTime ?? v.createdAtTime;
    const since = '2023-06-01T00:00:00.000Z';
    const recent = await selects(`updatedAfterTime=${since}`, (v) => Date.parse(updated(v)) >= Date.parse(since));
    expect(
      recent.some((v) => v.updatedAtTime === undefined),
      'never updated: updated when created',
    ).to.equal(true);
  });

  it('answers 400 for a malformed filter, hinting at an unencoded +', async () => {
    const queries = [
      'createdAfterTime=yesterday',
      'createdAfterTime=2023-06-01',
      'updatedAfterTime=2023-06-01T00:00:00Z&updatedAfterTime=2023-07-01T00:00:00Z',
      'attributes=NoColon',
      'attributes=:value',
      `attributes=${encodeURIComponent(FUEL)}:range(,)`,
      `attributes=${encodeURIComponent(FUEL)}:range(low,high)`,
    ];
    for (const query of queries) {
      const res = await api(emulator, `/fleet/vehicles?${query}`, token);
      expect(res.status, query).to.equal(400);
      expect(res.body, query).to.have.keys('message', 'requestId');
    }
    const plus = await api(emulator, '/fleet/vehicles?createdAfterTime=2023-06-01T00:00:00+02:00', token);
    expect(plus.status).to.equal(400);
    expect(plus.body.message, 'the + arrived as a space').to.match(/%2B/);
  });

  it('pages a filtered list with cursors bound to its filters, ending with endCursor ""', async () => {
    const query = 'parentTagIds=3900';
    const all = await walk(query);
    expect(await walk(query, 7), 'pages of 7 make the same list').to.deep.equal(all);
    const first = await api(emulator, `/fleet/vehicles?limit=10&${query}`, token);
    const cursor = encodeURIComponent(first.body.pagination.endCursor as string);
    const respelled = await api(emulator, `/fleet/vehicles?limit=3&parentTagIds=3900,3900&after=${cursor}`, token);
    expect(respelled.body.data, 'the same filters spelled otherwise, another limit').to.deep.equal(all.slice(10, 13));
    for (const other of ['', '&parentTagIds=3915', '&tagIds=3900']) {
      const res = await api(emulator, `/fleet/vehicles?after=${cursor}${other}`, token);
      expect(res.status, `cursor of ${query} used with "${other}"`).to.equal(400);
    }
    const unfiltered = await api(emulator, '/fleet/vehicles?limit=10', token);
    const foreign = encodeURIComponent(unfiltered.body.pagination.endCursor as string);
    expect((await api(emulator, `/fleet/vehicles?${query}&after=${foreign}`, token)).status).to.equal(400);
    const none = await api(emulator, '/fleet/vehicles?tagIds=1', token);
    expect(none.body).to.deep.equal({ data: [], pagination: { endCursor: '', hasNextPage: false } });
  });
});
