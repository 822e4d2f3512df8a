import { expect } from 'chai';
// The sealer is internal to the stores, which the package does not export: from its source.
import { SealError } from '../lib/errors/index.js';
import { CredentialSealer } from '../lib/tokens/credential-sealer.js';
import type { NewCredentials } from '../lib/tokens/credentials.js';
import { generateSealingKey, parseKeyring } from '../lib/tokens/seal.js';

const keyring = parseKeyring(generateSealingKey('k1'));
const creds = (n: number): NewCredentials => ({
  accessToken: `access-${n}`,
  refreshToken: `refresh-${n}`,
  expiresAt: 1_700_000_000_000 + n,
  grantId: `grant-${n}`,
  region: 'eu',
});

describe('CredentialSealer: the last sealed value per name, remembered', () => {
  it('opens what it sealed, and what another sealer sealed, to the stored fields', () => {
    const ours = new CredentialSealer(keyring);
    const theirs = new CredentialSealer(keyring);
    const sealed = ours.seal({ ...creds(1), version: 7 } as NewCredentials, 'name');
    expect(ours.open(sealed, 'name')).to.deep.equal(creds(1));
    expect(theirs.open(sealed, 'name')).to.deep.equal(creds(1));
    expect(theirs.open(sealed, 'name')).to.deep.equal(creds(1));
  });

  it('gives a copy each time: changing one leaves the next open as stored', () => {
    const sealer = new CredentialSealer(keyring);
    const sealed = sealer.seal(creds(1), 'name');
    sealer.open(sealed, 'name').accessToken = 'changed';
    expect(sealer.open(sealed, 'name').accessToken).to.equal('access-1');
  });

  it('opens a different value under the same name afresh, not as the remembered one', () => {
    const ours = new CredentialSealer(keyring);
    const theirs = new CredentialSealer(keyring);
    const first = ours.seal(creds(1), 'name');
    expect(ours.open(first, 'name')).to.deep.equal(creds(1));
    // Another process's write: a new value under the name this sealer remembers.
    expect(ours.open(theirs.seal(creds(2), 'name'), 'name')).to.deep.equal(creds(2));
    expect(ours.open(first, 'name')).to.deep.equal(creds(1));
  });

  it('still refuses a remembered value under another name, and a tampered copy of it', () => {
    const sealer = new CredentialSealer(keyring);
    const sealed = sealer.seal(creds(1), 'name');
    expect(sealer.open(sealed, 'name')).to.deep.equal(creds(1));
    expect(() => sealer.open(sealed, 'other')).to.throw(SealError);
    const parts = sealed.split('.');
    parts[3] = (parts[3][0] === 'A' ? 'B' : 'A') + parts[3].slice(1);
    expect(() => sealer.open(parts.join('.'), 'name')).to.throw(SealError);
    expect(() => sealer.open(`${sealed}A`, 'name')).to.throw(SealError);
  });

  it('keeps remembering names while it forgets the oldest past its bound', () => {
    const sealer = new CredentialSealer(keyring);
    const sealed = Array.from({ length: 1_100 }, (_, i) => sealer.seal(creds(i), `name-${i}`));
    sealed.forEach((value, i) => expect(sealer.open(value, `name-${i}`)).to.deep.equal(creds(i)));
  });
});
