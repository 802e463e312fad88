import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { newSessionId } from '@relaycast/protocol';
import { FencedError, SessionEndedError, SessionMissingError, SessionStore, keySpace } from '@relaycast/store';
import { startRedis, type TestRedis } from '../helpers/redis.js';

let redis: TestRedis;
let client: Redis;
let store: SessionStore;
const RETENTION = 120;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  store = new SessionStore(client, keySpace(redis.prefix()), { maxLen: 1000, retentionSeconds: RETENTION, openTtlSeconds: 3600 });
});
afterAll(async () => {
  client?.disconnect();
  await redis?.close();
});

async function fresh() {
  const id = newSessionId();
  await store.create(id, { model: 'm', createdAt: Date.now() });
  return { id, ...(await store.begin(id)) };
}
const seqs = async (id: string) => (await store.range(id, 1, 100)).map((e) => e.seq);

describe('append-3.lua', () => {
  it('a retried batch is not stored twice, and a partly stored batch stores only the rest', async () => {
    const s = await fresh();
    await store.append(s.id, s.attempt, 1, [{ type: 'delta', text: 'a' }, { type: 'delta', text: 'b' }]);
    await store.append(s.id, s.attempt, 1, [{ type: 'delta', text: 'a' }, { type: 'delta', text: 'b' }]);
    await store.append(s.id, s.attempt, 2, [{ type: 'delta', text: 'b' }, { type: 'delta', text: 'c' }]);
    expect(await seqs(s.id)).toEqual([1, 2, 3]);
    expect((await store.range(s.id, 1, 10)).map((e) => JSON.parse(e.data).text)).toEqual(['a', 'b', 'c']);
  });

  it('fences off an earlier attempt once a new one began', async () => {
    const s = await fresh();
    await store.append(s.id, s.attempt, 1, [{ type: 'delta', text: 'old' }]);
    const next = await store.begin(s.id);
    expect(next.attempt).toBe(s.attempt + 1);
    await expect(store.append(s.id, s.attempt, 2, [{ type: 'delta', text: 'late' }])).rejects.toBeInstanceOf(FencedError);
    await store.append(s.id, next.attempt, 2, [{ type: 'reset', reason: 'retry', attempt: next.attempt }]);
    expect(await seqs(s.id)).toEqual([1, 2]);
  });

  it('accepts exactly one terminal event, then sets the retention TTL on stream and metadata', async () => {
    const s = await fresh();
    await store.append(s.id, s.attempt, 1, [{ type: 'delta', text: 'x' }, { type: 'done', finishReason: 'stop' }]);
    await expect(store.append(s.id, s.attempt, 3, [{ type: 'error', code: 'late', message: 'm', retryable: false }])).rejects.toBeInstanceOf(SessionEndedError);
    // Retrying the batch that ended the session is still fine (idempotent), and changes nothing.
    await store.append(s.id, s.attempt, 1, [{ type: 'delta', text: 'x' }, { type: 'done', finishReason: 'stop' }]);
    const meta = await store.meta(s.id);
    expect(meta).toMatchObject({ status: 'done', terminal: 2, seq: 2 });
    const k = store.keys.session(s.id);
    for (const key of [k.stream, k.meta]) {
      const ttl = await client.ttl(key);
      expect(ttl).toBeGreaterThan(RETENTION - 5);
      expect(ttl).toBeLessThanOrEqual(RETENTION);
    }
    await expect(store.begin(s.id)).rejects.toBeInstanceOf(SessionEndedError);
  });

  it('stops a batch at its terminal event', async () => {
    const s = await fresh();
    await store.append(s.id, s.attempt, 1, [{ type: 'cancelled', reason: 'r' }, { type: 'delta', text: 'never' }]);
    expect(await seqs(s.id)).toEqual([1]);
  });

  it('refuses appends to a session that does not exist', async () => {
    await expect(store.append(newSessionId(), 1, 1, [{ type: 'delta', text: 'x' }])).rejects.toBeInstanceOf(SessionMissingError);
  });

  it('notifies the live channel with the appended entries in one message', async () => {
    const s = await fresh();
    const sub = new Redis(redis.url);
    try {
      const got = new Promise<string>((resolve) => sub.on('smessage', (_c: string, m: string) => resolve(m)));
      await sub.ssubscribe(store.keys.session(s.id).live);
      await store.append(s.id, s.attempt, 1, [{ type: 'delta', text: 'p' }, { type: 'delta', text: 'q' }]);
      expect(await got).toBe('1\ndelta\n{"text":"p"}\ndelta\n{"text":"q"}');
    } finally {
      sub.disconnect();
    }
  });
});
