import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { SessionStore, keySpace } from '@relaycast/store';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

let sys: TestSystem;
let redis: Redis;
let store: SessionStore;
beforeAll(async () => {
  sys = await startSystem({ edges: 1, env: { COALESCE_MS: '0', UPSTREAM_IDLE_TIMEOUT_MS: '1000' } });
  redis = new Redis(sys.redis.url);
  store = new SessionStore(redis, keySpace(sys.cfg.REDIS_KEY_PREFIX), { maxLen: 1000, retentionSeconds: 60, openTtlSeconds: 60 });
});
afterAll(async () => {
  redis?.disconnect();
  await sys?.close();
});

// Paced so most tokens become events of their own (a burst would be coalesced into one delta).
const ask = { messages: [{ role: 'user', content: 'gaps' }], max_tokens: 12, mock: { intervalMs: 10 } };

describe('entries missing from a stream are reported in-band as a gap, never skipped silently', () => {
  it('entries trimmed from the head: a resume from before them starts with gap {requested, resumedFrom}', async () => {
    const s = await sys.create(ask);
    const full = await readSse(sys.edges[0]!.url, s.eventsUrl);
    const n = full.events.length;
    expect(n).toBeGreaterThan(7);
    await redis.xtrim(store.keys.session(s.id).stream, 'MINID', '5-0');
    const r = await readSse(sys.edges[0]!.url, s.eventsUrl, { lastEventId: '1' });
    expect(r.events[0]).toMatchObject({ id: '4', event: 'gap' });
    expect(JSON.parse(r.events[0]!.data)).toEqual({ requested: '1', resumedFrom: '5' });
    expect(r.events.slice(1)).toEqual(full.events.slice(4));
    expect(r.events.at(-1)!.id).toBe(String(n));
  });

  it('entries lost mid-stream (as after a failover): replay reports the hole and continues after it', async () => {
    const s = await sys.create(ask);
    const full = await readSse(sys.edges[0]!.url, s.eventsUrl);
    expect(full.events.length).toBeGreaterThan(7);
    await redis.xdel(store.keys.session(s.id).stream, '4-0', '5-0');
    const r = await readSse(sys.edges[0]!.url, s.eventsUrl, { lastEventId: '2' });
    expect(r.events.map((e) => e.id)).toEqual(['3', '5', ...full.events.slice(5).map((e) => e.id)]);
    expect(r.events[1]!.event).toBe('gap');
    expect(JSON.parse(r.events[1]!.data)).toEqual({ requested: '3', resumedFrom: '6' });
  });

  it('an append past the end of the stream keeps its seqs (no id is reused) and live subscribers get a gap', async () => {
    const s = await sys.create({ ...ask, mock: { firstTokenMs: 5_000 } });
    // Once the worker owns it, take the session over as a new attempt so its slow generation is fenced off.
    for (const deadline = Date.now() + 10_000; (await store.meta(s.id))?.status !== 'running'; ) {
      if (Date.now() > deadline) throw new Error('worker never began the session');
      await new Promise((r) => setTimeout(r, 10));
    }
    const b = await store.begin(s.id);
    await store.append(s.id, b.attempt, b.seq + 1, [{ type: 'delta', text: 'a' }]);
    const live = readSse(sys.edges[0]!.url, s.eventsUrl);
    const first = await readSse(sys.edges[0]!.url, s.eventsUrl, { stopAfter: 1 });
    expect(first.events[0]!.id).toBe(String(b.seq + 1));
    // Redis "lost" seq b.seq+2: the writer's next batch starts one past the end of the stream.
    const last = await store.append(s.id, b.attempt, b.seq + 3, [{ type: 'delta', text: 'c' }, { type: 'done', finishReason: 'stop' }]);
    expect(last).toBe(b.seq + 4);
    const r = await live;
    const tail = r.events.slice(-3);
    expect(tail.map((e) => e.event)).toEqual(['gap', 'delta', 'done']);
    expect(JSON.parse(tail[0]!.data)).toEqual({ requested: String(b.seq + 1), resumedFrom: String(b.seq + 3) });
    expect(tail.map((e) => e.id)).toEqual([String(b.seq + 2), String(b.seq + 3), String(b.seq + 4)]);
  });
});
