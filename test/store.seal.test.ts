import { expect } from 'chai';
import type Redis from 'ioredis';
import { RedisTokenStore, generateSealingKey, type NewCredentials } from 'passport-samsara';
import { ConfigurationError, SealError } from 'passport-samsara/errors';
import { connect, startRedis, type RedisServer } from './support/redis.js';

const grant: NewCredentials = {
  accessToken: 'ACCESS-TOKEN-SECRET-1',
  refreshToken: 'REFRESH-TOKEN-SECRET-1',
  expiresAt: 1_900_000_000_000,
  scope: 'admin:read',
  grantId: 'g1',
};
const k1 = generateSealingKey('k1');
const k2 = generateSealingKey('k2');
const secretOf = (entry: string): string => entry.slice(entry.indexOf(':') + 1);

describe('Sealing in RedisTokenStore', () => {
  let server: RedisServer;
  let client: Redis;
  const prefix = `seal-test-${process.pid}:`;
  const storeWith = (keys: string): RedisTokenStore => new RedisTokenStore({ client, keys, prefix });
  const credKey = (key: string): string => `${prefix}{org:${key}}`;

  before(async () => {
    server = await startRedis();
    client = connect('ioredis 5', server) as Redis;
  });
  after(async () => {
    client?.disconnect();
    await server?.stop();
  });

  it('keeps no token in plaintext in Redis', async () => {
    const { version } = await storeWith(k1).replace('1001', grant, 10);
    const raw = await client.hgetall(credKey('1001'));
    // The sealed grant, and its non-secret status in the clear (for listing): expiry, time written, region, client id;
    // and fingerprints (truncated SHA-256) of the refresh token (f) and of the whole credentials (k).
    expect(raw).to.have.keys('v', 'd', 'c', 'e', 'w', 'rg', 'ci', 'f', 'k');
    expect(raw.e).to.equal(String(grant.expiresAt));
    expect(raw.c).to.equal(grant.grantId);
    expect(raw.v).to.equal(String(version));
    expect(raw.d).to.match(/^v1\.k1\./);
    const dump = JSON.stringify(raw) + (await client.dumpBuffer(credKey('1001'))).toString('latin1');
    for (const secret of [grant.accessToken, grant.refreshToken, grant.scope!]) expect(dump).to.not.include(secret);
  });

  it('reads values sealed under an older key after rotation, and seals the next write with the newest', async () => {
    const written = await storeWith(k1).replace('1002', grant, 10);
    const rotated = storeWith(`${k2},${k1}`);
    const read = await rotated.get('1002');
    expect(read).to.deep.equal({ ...grant, version: written.version });
    await rotated.update('1002', { ...grant, accessToken: 'ACCESS-2' }, read!.version);
    expect(await client.hget(credKey('1002'), 'd')).to.match(/^v1\.k2\./);
    expect((await storeWith(k2).get('1002'))?.accessToken).to.equal('ACCESS-2');
  });

  it('fails with SealError naming the kid when the keyring lacks it', async () => {
    await storeWith(k2).replace('1003', grant, 10);
    const error = await storeWith(k1)
      .get('1003')
      .then(
        () => expect.fail('get resolved'),
        (err: unknown) => err,
      );
    expect(error).to.be.instanceOf(SealError).with.property('code', 'SAMSARA_SEAL');
    expect((error as Error).message)
      .to.include('"k2"')
      .and.not.include(secretOf(k2));
  });

  it('fails with SealError when the value was tampered with or copied from another key', async () => {
    const store = storeWith(k1);
    await store.replace('1004', grant, 10);
    await store.replace('1005', { ...grant, accessToken: 'OTHER' }, 10);
    const sealed = (await client.hget(credKey('1004'), 'd'))!;
    await client.hset(credKey('1005'), 'd', sealed);
    const parts = sealed.split('.');
    parts[3] = (parts[3][0] === 'A' ? 'B' : 'A') + parts[3].slice(1);
    await client.hset(credKey('1004'), 'd', parts.join('.'));
    for (const key of ['1004', '1005']) {
      await store.get(key).then(
        () => expect.fail(`get(${key}) resolved`),
        (err: unknown) => expect(err).to.be.instanceOf(SealError),
      );
    }
  });

  it('uses SAMSARA_SEALING_KEYS by default and explains how to make a key when there is none', () => {
    const saved = process.env.SAMSARA_SEALING_KEYS;
    try {
      delete process.env.SAMSARA_SEALING_KEYS;
      expect(() => new RedisTokenStore({ client }))
        .to.throw(ConfigurationError)
        .with.property('message')
        .that.includes(`node -p "require('passport-samsara').generateSealingKey()"`)
        .and.includes('SAMSARA_SEALING_KEYS');
      process.env.SAMSARA_SEALING_KEYS = k1;
      expect(new RedisTokenStore({ client })).to.be.instanceOf(RedisTokenStore);
    } finally {
      if (saved === undefined) delete process.env.SAMSARA_SEALING_KEYS;
      else process.env.SAMSARA_SEALING_KEYS = saved;
    }
  });
});
