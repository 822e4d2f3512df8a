// The tags and attributes every emulated organization uses, fixed so that a test can name them in
// `tagIds`, `parentTagIds`, `attributeValueIds` and `attributes` filters without a lookup first.
// On Samsara they come from GET /tags and GET /attributes, which the emulator does not serve.

/**
 * A tag of the emulated fleets. `parentTagId` makes a hierarchy: `parentTagIds=3900` selects the
 * vehicles tagged 3900 or any tag below it (East, West, and Bay Area under West).
 *
 * @example
 * ```ts
 * import { EMULATED_TAGS } from 'passport-samsara/testing';
 *
 * const west = EMULATED_TAGS.find((t) => t.name === 'West Region')!;
 * await fetch(`${samsara.baseURL}/fleet/vehicles?parentTagIds=${west.id}`, { headers }); // West and Bay Area
 * ```
 */
export interface EmulatedTag {
  id: string;
  name: string;
  parentTagId?: string;
}

/**
 * The tags of every emulated fleet: a two-level region hierarchy and a flat `Refrigerated` tag.
 *
 * @example
 * ```ts
 * EMULATED_TAGS.map((t) => t.name); // ['Regions', 'East Region', 'West Region', 'Bay Area', 'Refrigerated']
 * ```
 */
export const EMULATED_TAGS: readonly EmulatedTag[] = [
  { id: '3900', name: 'Regions' },
  { id: '3914', name: 'East Region', parentTagId: '3900' },
  { id: '3915', name: 'West Region', parentTagId: '3900' },
  { id: '3921', name: 'Bay Area', parentTagId: '3915' },
  { id: '4120', name: 'Refrigerated' },
];

/**
 * An attribute of the emulated fleets, in the shape of Samsara's `GET /attributes`: a string
 * attribute lists its values with the ids `attributeValueIds` takes; a number attribute has no
 * value ids, and is filtered with `attributes=Name:123` or `attributes=Name:range(lo,hi)`.
 *
 * @example
 * ```ts
 * import { EMULATED_ATTRIBUTES } from 'passport-samsara/testing';
 *
 * const leased = EMULATED_ATTRIBUTES.find((a) => a.name === 'Ownership')!.values.find((v) => v.stringValue === 'Leased')!;
 * await fetch(`${samsara.baseURL}/fleet/vehicles?attributeValueIds=${leased.id}`, { headers });
 * ```
 */
export interface EmulatedAttribute {
  id: string;
  name: string;
  attributeType: 'string' | 'number';
  /** `multi`: a vehicle may carry several of the values at once. */
  attributeValueQuantity: 'single' | 'multi';
  values: Array<{ id: string; stringValue: string }>;
}

/**
 * The attributes of every emulated fleet: `Ownership`, `Home Depot` (single string values),
 * `Equipment` (several string values per vehicle) and `Fuel Capacity (gal)` (a number).
 *
 * @example
 * ```ts
 * const equipment = EMULATED_ATTRIBUTES.find((a) => a.name === 'Equipment')!;
 * const both = equipment.values.filter((v) => v.stringValue !== 'Dashcam').map((v) => v.id).join(',');
 * await fetch(`${samsara.baseURL}/fleet/vehicles?attributeValueIds=${both}`, { headers }); // vehicles with both
 * ```
 */
export const EMULATED_ATTRIBUTES: readonly EmulatedAttribute[] = [
  {
    id: '912bc0f2-ac0b-4b44-bbcd-3445dc5128e4',
    name: 'Ownership',
    attributeType: 'string',
    attributeValueQuantity: 'single',
    values: [
      { id: 'c3b3a5af-1a00-481f-af8f-ca1c6e833b30', stringValue: 'Owned' },
      { id: 'f7c85b11-2cb2-4f55-87f4-17b797ba2229', stringValue: 'Leased' },
    ],
  },
  {
    id: '1ee4e6a4-67dc-4c61-9439-4109889b81d9',
    name: 'Home Depot',
    attributeType: 'string',
    attributeValueQuantity: 'single',
    values: [
      { id: '66e22c2b-ca1b-4ef3-b97a-6fbf7aae59fb', stringValue: 'Oakland' },
      { id: '84483312-a2aa-47e1-bb21-045a9ce3e229', stringValue: 'Fresno' },
      { id: '2aee490f-0eec-4a40-86c5-2fdd4ba2b381', stringValue: 'Reno' },
    ],
  },
  {
    id: '0997b254-a3d6-4a62-adf9-bc1e99644100',
    name: 'Equipment',
    attributeType: 'string',
    attributeValueQuantity: 'multi',
    values: [
      { id: '40f7ac8e-f061-4864-8cc8-0267f31a2222', stringValue: 'Liftgate' },
      { id: '5c4ec185-99bb-404d-837e-6f191f059db7', stringValue: 'Reefer unit' },
      { id: '06bd2f1d-874b-41e6-a35d-5c51e42ae2d0', stringValue: 'Dashcam' },
    ],
  },
  {
    id: '5f10ee8a-30f8-4c8c-b951-c9e7a3c51fd1',
    name: 'Fuel Capacity (gal)',
    attributeType: 'number',
    attributeValueQuantity: 'single',
    values: [],
  },
];
