import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChatOwners, keySpace } from '@relaycast/store';
import { startRedis, type TestRedis } from '../helpers/redis.js';

// chat-owner-1.lua on a real Redis: the first tenant holds a chat id, its turns renew the hold.
let redis: TestRedis;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client?.disconnect();
  await redis?.close();
});

it('the first tenant to claim a chat id holds it; its claims renew the TTL; another tenant is refused until it expires', async () => {
  const keys = keySpace(redis.prefix());
  const owners = new ChatOwners(client, keys);
  const key = keys.compat.chatOwner('c1');
  expect(await owners.othersHold('c1', 'b')).toBe(false); // nobody's yet
  expect(await owners.claim('c1', 'a', 100)).toBe(true);
  expect(await client.get(key)).toBe('a');
  expect(await owners.claim('c1', 'b', 100)).toBe(false);
  expect(await owners.othersHold('c1', 'b')).toBe(true);
  expect(await owners.othersHold('c1', 'a')).toBe(false);
  expect(await client.get(key)).toBe('a');
  await client.expire(key, 5);
  expect(await owners.claim('c1', 'a', 100)).toBe(true);
  expect(await client.ttl(key)).toBeGreaterThan(90);
  // Another tenant's refused claim leaves the owner's TTL alone.
  await client.expire(key, 5);
  expect(await owners.claim('c1', 'b', 100)).toBe(false);
  expect(await client.ttl(key)).toBeLessThanOrEqual(5);
  await client.del(key); // expired
  expect(await owners.claim('c1', 'b', 100)).toBe(true);
  expect(await owners.othersHold('c1', 'a')).toBe(true);
});
