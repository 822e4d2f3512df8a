import { expect } from 'chai';
// The Redis schema's internals, which the package does not export: from their source.
import {
  channelOf,
  channelPattern,
  claimKeyOf,
  credKeyOf,
  credPattern,
  encodedKeyOfChannel,
  epochKeyOf,
  epochTagOf,
  FIELD,
  keyOfCredKey,
  LUA_FIELDS,
  lockKeyOf,
  rateKeyOf,
  retiredField,
  retiredFingerprintField,
  webhookKeyOf,
} from '../lib/tokens/redis-schema.js';
import { positional, SCRIPTS } from '../lib/tokens/redis-scripts.js';

describe('Redis schema: the one table of keys and fields', () => {
  it('spells the stored format as it was (data already written must still read)', () => {
    expect(FIELD).to.deep.equal({
      version: 'v',
      sealed: 'd',
      grantId: 'c',
      revivable: 'r',
      retiredIds: 'q',
      fingerprint: 'f',
      contentFingerprint: 'k',
      expiresAt: 'e',
      writtenAt: 'w',
      region: 'rg',
      clientID: 'ci',
      webhookId: 'id',
    });
    expect([retiredField('g1'), retiredFingerprintField('g1')]).to.deep.equal(['g:g1', 'h:g1']);
    const credKey = credKeyOf('app:', 'org/1');
    expect(credKey).to.equal('app:{org:org%2F1}');
    expect([lockKeyOf(credKey), webhookKeyOf(credKey), channelOf('kp:', credKey)]).to.deep.equal([
      'app:{org:org%2F1}:lock',
      'app:{org:org%2F1}:webhook',
      'kp:app:{org:org%2F1}:done',
    ]);
    expect(claimKeyOf('app:', 'a b')).to.equal('app:claim:{a%20b}');
    expect(epochKeyOf('app:', epochTagOf(3))).to.equal('app:{epoch:3}');
    expect(rateKeyOf('app:', '1001', 'global')).to.equal('app:{org:1001}:rate:global');
  });

  it('reads back the id a key or a channel names, and escapes glob characters of the prefix', () => {
    expect(keyOfCredKey('kp:', 'a*:', `kp:${credKeyOf('a*:', 'org/1')}`)).to.equal('org/1');
    expect(credPattern('kp:', 'a*:')).to.equal('kp:a\\*:{org:*}');
    expect(channelPattern('', 'a?:')).to.equal('a\\?:{org:*}:done');
    expect(encodedKeyOfChannel('kp:', 'p:', channelOf('kp:', credKeyOf('p:', 'org/1')))).to.equal('org%2F1');
  });

  it('gives every field a distinct letter, and each a Lua local', () => {
    const letters = Object.values(FIELD).filter((field) => field !== FIELD.webhookId);
    expect(new Set(letters).size).to.equal(letters.length);
    expect(LUA_FIELDS).to.include("local F_CLIENT_ID = 'ci'").and.include("local F_CONTENT_FINGERPRINT = 'k'");
  });

  it('uses KEYS and ARGV in no script body, only in its header of named locals', () => {
    for (const [name, { lua, keys, argv }] of Object.entries(SCRIPTS)) {
      const body = lua.slice(lua.indexOf(LUA_FIELDS) + LUA_FIELDS.length);
      expect(body, name).to.not.match(/\b(KEYS|ARGV)\b/);
      expect(lua, name).to.include(`local ${keys[0]} = KEYS[1]`);
      if (argv.length > 0) expect(lua, name).to.include(`local ${argv[argv.length - 1]} = ARGV[${argv.length}]`);
    }
  });

  it('passes named arguments in the order of the script, keys first, the rest last', () => {
    const args = positional(SCRIPTS.samsaraTokenForget, { channel: 'ch', tombstoneTtl: 5, key: 'k' }, ['g1', 'fp1']);
    expect(args).to.deep.equal(['k', 5, 'ch', 'g1', 'fp1']);
    expect(positional(SCRIPTS.samsaraTokenLock, { ttlMs: 9, holder: 'h', key: 'c', lockKey: 'l' })).to.deep.equal([
      'l',
      'c',
      'h',
      9,
    ]);
  });
});
