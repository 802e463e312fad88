import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { newSessionId } from '@relaycast/protocol';
import { SessionStore, keySpace } from '@relaycast/store';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';
import { mintToken } from '../helpers/auth.js';

const HEARTBEAT_MS = 1_000;
let sys: TestSystem;
let redis: Redis;
let store: SessionStore;
beforeAll(async () => {
  sys = await startSystem({ edges: 1, env: { HEARTBEAT_MS: String(HEARTBEAT_MS) } });
  redis = new Redis(sys.redis.url);
  store = new SessionStore(redis, keySpace(sys.cfg.REDIS_KEY_PREFIX), { maxLen: 100_000, retentionSeconds: 600, openTtlSeconds: 600 });
});
afterAll(async () => {
  redis?.disconnect();
  await sys?.close();
});

/** Heartbeat comments (`:` and nothing else) in a raw SSE body; the `:ok` written with the headers is not one. */
const heartbeats = (raw: string) => raw.split('\n\n').filter((frame) => frame === ':').length;

async function session() {
  const id = newSessionId();
  await store.create(id, { model: 'm', createdAt: Date.now(), tenant: 'test' });
  const { attempt } = await store.begin(id);
  return { id, attempt, path: `/v1/sessions/${id}/events?token=${mintToken(id)}` };
}

describe('heartbeats', () => {
  it('an idle stream gets a comment every interval; one carrying events gets none (no second write per socket)', async () => {
    const edge = sys.edges[0]!;
    const busy = await session();
    const idle = await session();
    const n = 60;
    const busyRead = readSse(edge.url, busy.path, { timeoutMs: 30_000 });
    let idleRaw = '';
    const idleRead = readSse(edge.url, idle.path, { timeoutMs: 30_000, onChunk: (c) => (idleRaw += c) });
    for (const deadline = Date.now() + 5_000; edge.stats.openConnections < 2; ) {
      if (Date.now() > deadline) throw new Error('subscribers did not connect');
      await new Promise((r) => setTimeout(r, 10));
    }
    // An event every 50 ms for 3 s: several heartbeat intervals, each with plenty of events in it.
    for (let seq = 1; seq <= n; seq++) {
      await store.append(busy.id, busy.attempt, seq, [seq === n ? { type: 'done', finishReason: 'stop' } : { type: 'delta', text: `t${seq}` }]);
      await new Promise((r) => setTimeout(r, 50));
    }
    const b = await busyRead;
    expect(b.events).toHaveLength(n);
    expect(heartbeats(b.raw)).toBe(0);
    // The idle stream, open as long, was kept alive meanwhile (3 s at a 1 s interval: 2 or 3 comments).
    expect(heartbeats(idleRaw)).toBeGreaterThanOrEqual(2);
    await store.append(idle.id, idle.attempt, 1, [{ type: 'done', finishReason: 'stop' }]);
    expect((await idleRead).events).toHaveLength(1);
  });
});
