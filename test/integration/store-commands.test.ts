import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { newSessionId } from '@relaycast/protocol';
import { ChatOwners, keySpace, SessionStore, type ScriptArg, type SessionCommands } from '@relaycast/store';
import { startRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
let client: Redis;
const opts = { maxLen: 1000, retentionSeconds: 120, openTtlSeconds: 3600 };
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client?.disconnect();
  await redis?.close();
});

/**
 * A fault-injecting backend: an object with only the commands SessionCommands names (anything else the
 * store called would be a TypeError), forwarding each to a real connection, except that the next
 * `failAppends` appends fail before they reach Redis.
 */
function flakyAppends(real: SessionCommands): SessionCommands & { failAppends: number } {
  const w = {
    failAppends: 0,
    multi: real.multi.bind(real) as SessionCommands['multi'],
    hgetall: real.hgetall.bind(real) as SessionCommands['hgetall'],
    xrange: real.xrange.bind(real) as SessionCommands['xrange'],
    hget: real.hget.bind(real) as SessionCommands['hget'],
    exists: real.exists.bind(real) as SessionCommands['exists'],
    rcBegin: (...a: ScriptArg[]) => real.rcBegin(...a),
    rcCancel: (...a: ScriptArg[]) => real.rcCancel(...a),
    rcAppend: (...a: ScriptArg[]) => (w.failAppends-- > 0 ? Promise.reject(new Error('injected: connection reset')) : real.rcAppend(...a)),
  };
  return w;
}

describe('SessionStore runs on its narrow command interface', () => {
  it('a SessionStore works through a small wrapper of exactly its commands, and an injected append fault stores nothing', async () => {
    const keys = keySpace(redis.prefix());
    const flaky = flakyAppends(new SessionStore(client, keys, opts).redis);
    const store = new SessionStore(flaky, keys, opts);
    const id = newSessionId();
    await store.create(id, { model: 'm', createdAt: Date.now() });
    const { attempt } = await store.begin(id);
    flaky.failAppends = 1;
    await expect(store.append(id, attempt, 1, [{ type: 'delta', text: 'a' }])).rejects.toThrow(/injected/);
    expect(await store.streamExists(id)).toBe(false);
    expect(await store.append(id, attempt, 1, [{ type: 'delta', text: 'a' }])).toBe(1);
    expect((await store.range(id, 1, 10)).map((e) => e.seq)).toEqual([1]);
    expect(await store.lastSeqs([id])).toEqual([1]);
    expect((await store.meta(id))?.status).toBe('running');
    expect(await store.requestCancel(id, 'user')).toMatchObject({ status: 'running', ended: false });
  });
});

// chat-owner-1.lua on a real Redis: the first tenant holds a chat id, its turns renew the hold.
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
