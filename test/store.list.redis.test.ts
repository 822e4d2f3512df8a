import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { RedisTokenStore, generateSealingKey, type NewCredentials, type OrganizationStatus } from 'passport-samsara';
import { connect, startRedis, type RedisServer } from './support/redis.js';

const grant = (n: number): NewCredentials => ({
  accessToken: `access-${n}`,
  refreshToken: `refresh-${n}`,
  expiresAt: 1_900_000_000_000 + n,
  grantId: `g${n}`,
});

async function listed(store: RedisTokenStore): Promise<OrganizationStatus[]> {
  const found: OrganizationStatus[] = [];
  for await (const status of store.list()) found.push(status);
  return found;
}

async function ids(store: RedisTokenStore): Promise<string[]> {
  return (await listed(store)).map((s) => s.orgId).sort();
}

describe('RedisTokenStore.list: what only Redis has', () => {
  let redis: RedisServer;
  let client: Redis;
  const keys = generateSealingKey('list');

  before(async () => {
    redis = await startRedis();
    client = connect('ioredis 5', redis) as Redis;
  });
  after(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('lists only its own prefix, even when a prefix holds glob characters', async () => {
    const star = new RedisTokenStore({ client, keys, prefix: 'a*:' });
    const plain = new RedisTokenStore({ client, keys, prefix: 'ab:' });
    const bracket = new RedisTokenStore({ client, keys, prefix: 'a[b]:' });
    await star.replace('1', grant(1), 10);
    await plain.replace('2', grant(2), 10);
    await bracket.replace('3', grant(3), 10);
    expect(await ids(star)).to.deep.equal(['1']);
    expect(await ids(plain)).to.deep.equal(['2']);
    expect(await ids(bracket)).to.deep.equal(['3']);
  });

  it('pages with a small listBatchSize and still lists each key once', async () => {
    const store = new RedisTokenStore({ client, keys, prefix: 'paged:', listBatchSize: 7 });
    const all = Array.from({ length: 50 }, (_, i) => `org-${String(i).padStart(2, '0')}`);
    for (const [i, key] of all.entries()) await store.replace(key, grant(i), 10);
    expect(await ids(store)).to.deep.equal(all);
  });

  it('reads the expiry of credentials written before the status fields existed from the sealed grant', async () => {
    const store = new RedisTokenStore({ client, keys, prefix: 'legacy:' });
    const { version } = await store.replace('1001', grant(5), 10);
    await client.hdel('legacy:{org:1001}', 'e', 'w', 'rg', 'ci');
    const [status] = await listed(store);
    expect(status).to.deep.equal({
      orgId: '1001',
      grantId: 'g5',
      expiresAt: grant(5).expiresAt,
      version,
      writtenAt: 0,
    });
  });

  it('refuses a listBatchSize out of range', () => {
    for (const bad of [0, -1, 1.5, 20_000, NaN]) {
      expect(() => new RedisTokenStore({ client, keys, listBatchSize: bad }), String(bad)).to.throw(/listBatchSize/);
    }
  });
});
