import { expect } from 'chai';
// The sealing internals, which the package does not export: from their source.
import { ConfigurationError, SealError } from '../lib/errors/index.js';
import { generateSealingKey, open, parseKeyring, seal } from '../lib/tokens/seal.js';

const k1 = generateSealingKey('k1');
const k2 = generateSealingKey('k2');
const secretOf = (entry: string): string => entry.slice(entry.indexOf(':') + 1);

describe('Sealing: seal, open and the keyring', () => {
  const keyring = parseKeyring(`${k2},${k1}`);

  it('generates keyring entries with a date id by default', () => {
    const entry = generateSealingKey();
    expect(entry).to.match(/^k\d{8}:[A-Za-z0-9+/]{43}=$/);
    expect(parseKeyring(entry)[0].secret).to.have.length(32);
  });

  it('round-trips with the newest key and names it in the sealed value', () => {
    const sealed = seal(keyring, 'hello', 'aad');
    expect(sealed).to.match(/^v1\.k2\.[\w-]{16}\.[\w-]+\.[\w-]{22}$/);
    expect(open(keyring, sealed, 'aad')).to.equal('hello');
    expect(open(parseKeyring(k2), seal(keyring, '', 'aad'), 'aad')).to.equal('');
  });

  it('opens with any key of the ring', () => {
    const sealed = seal(parseKeyring(k1), 'old', 'aad');
    expect(open(keyring, sealed, 'aad')).to.equal('old');
  });

  it('refuses another AAD, a tampered part, an unknown kid and a foreign format with SealError', () => {
    const sealed = seal(keyring, 'hello', 'aad');
    const parts = sealed.split('.');
    const flip = (text: string): string => (text[0] === 'A' ? 'B' : 'A') + text.slice(1);
    const attempts = [
      () => open(keyring, sealed, 'other-aad'),
      ...[2, 3, 4].map(
        (i) => () => open(keyring, parts.map((part, j) => (j === i ? flip(part) : part)).join('.'), 'aad'),
      ),
      () => open(keyring, `${sealed}A`, 'aad'),
      () => open(parseKeyring(k1), sealed, 'aad'),
      () => open(keyring, 'plaintext-token', 'aad'),
      () => open(keyring, sealed.replace(/^v1/, 'v2'), 'aad'),
    ];
    for (const attempt of attempts) expect(attempt).to.throw(SealError);
    expect(() => open(parseKeyring(k1), sealed, 'aad')).to.throw(/"k2".*not in the keyring/);
  });

  it('never puts a secret or the plaintext in an error message', () => {
    const sealed = seal(keyring, 'PLAINTEXT-SECRET', 'aad');
    for (const attempt of [() => open(keyring, sealed, 'x'), () => open(parseKeyring(k1), sealed, 'aad')]) {
      const message = (() => {
        try {
          attempt();
        } catch (err) {
          return (err as Error).message;
        }
        return '';
      })();
      expect(message).to.not.include('PLAINTEXT-SECRET').and.not.include(secretOf(k1)).and.not.include(secretOf(k2));
    }
  });

  it('rejects a bad keyring with ConfigurationError, echoing no secret', () => {
    const short = `bad:${Buffer.alloc(16, 7).toString('base64')}`;
    const bad = [
      '',
      ' , ',
      secretOf(k1),
      short,
      `k1:${secretOf(k2)},${k1}`,
      `${'x'.repeat(33)}:${secretOf(k1)}`,
      `k1:not base64!`,
    ];
    for (const spec of bad) {
      expect(() => parseKeyring(spec), spec).to.throw(ConfigurationError);
      try {
        parseKeyring(spec);
      } catch (err) {
        expect((err as Error).message)
          .to.not.include(secretOf(k1))
          .and.not.include(secretOf(k2))
          .and.not.include(secretOf(short));
      }
    }
    expect(() => parseKeyring([{ id: 'k1', secret: Buffer.alloc(31) }])).to.throw(ConfigurationError, /"k1".*32 bytes/);
    expect(() => generateSealingKey('no spaces')).to.throw(ConfigurationError);
  });

  it('accepts an array keyring and entries with surrounding blanks', () => {
    const fromArray = parseKeyring([{ id: 'k9', secret: Buffer.alloc(32, 1) }]);
    expect(fromArray.map(({ id }) => id)).to.deep.equal(['k9']);
    expect(parseKeyring(` ${k2} ,\n${k1},`).map(({ id }) => id)).to.deep.equal(['k2', 'k1']);
  });
});
