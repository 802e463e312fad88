import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createParser } from 'eventsource-parser';
import { newSessionId } from '@relaycast/protocol';
import { SessionStore, keySpace } from '@relaycast/store';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';
import { mintToken } from '../helpers/auth.js';

let sys: TestSystem;
let redis: Redis;
let store: SessionStore;
beforeAll(async () => {
  sys = await startSystem({ edges: 1, env: { SUBSCRIBER_MAX_QUEUE_BYTES: '65536' } });
  redis = new Redis(sys.redis.url);
  store = new SessionStore(redis, keySpace(sys.cfg.REDIS_KEY_PREFIX), { maxLen: 100_000, retentionSeconds: 600, openTtlSeconds: 600 });
});
afterAll(async () => {
  redis?.disconnect();
  await sys?.close();
});

describe('slow consumer', () => {
  it('a subscriber that stops reading is disconnected once its queue passes the byte bound, others are unaffected, and it resumes exactly', async () => {
    const id = newSessionId();
    await store.create(id, { model: 'm', createdAt: Date.now(), tenant: 'test' });
    const { attempt } = await store.begin(id);
    const edge = sys.edges[0]!;
    const path = `/v1/sessions/${id}/events?token=${mintToken(id)}`;

    // A raw client that reads nothing after the request: the kernel buffers fill, then the edge's queue.
    const slow = connect(edge.port, '127.0.0.1');
    const received: Buffer[] = [];
    const closed = new Promise<void>((r) => slow.on('close', () => r()));
    slow.on('data', (c: Buffer) => received.push(c));
    slow.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`);
    slow.pause();
    const fast = readSse(edge.url, path, { timeoutMs: 60_000 });
    // Both are registered once the edge counts two open connections.
    for (const deadline = Date.now() + 5_000; edge.stats.openConnections < 2; ) {
      if (Date.now() > deadline) throw new Error('subscribers did not connect');
      await new Promise((r) => setTimeout(r, 10));
    }

    // 8 MiB of events, far more than loopback socket buffers hold.
    const big = 'x'.repeat(8 * 1024);
    const n = 1024;
    for (let seq = 1; seq <= n; seq += 32) {
      await store.append(id, attempt, seq, Array.from({ length: 32 }, (_, k) => (seq + k === n ? { type: 'done', finishReason: 'stop' } as const : { type: 'delta', text: big } as const)));
    }
    // The fast subscriber got everything, in order.
    const f = await fast;
    expect(f.events).toHaveLength(n);
    expect(f.events.at(-1)!.event).toBe('done');

    // The edge cut the slow one: drain what reached its socket and see where it stands.
    slow.resume();
    await closed;
    expect(edge.stats.slowDisconnects).toBe(1);
    const got: string[] = [];
    const parser = createParser({ onEvent: (e) => got.push(e.id!) });
    const raw = Buffer.concat(received).toString('utf8');
    parser.feed(raw.slice(raw.indexOf('\r\n\r\n') + 4));
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(n);
    expect(got).toEqual(got.map((_, i) => String(i + 1)));

    // It resumes from its last complete event and receives exactly the rest.
    const rest = await readSse(edge.url, path, { lastEventId: got.at(-1)!, timeoutMs: 60_000 });
    expect(rest.events.map((e) => e.id)).toEqual(f.events.slice(got.length).map((e) => e.id));
    expect(rest.events.at(-1)!.event).toBe('done');
  });
  it('a fast subscriber replaying a history of big events is paced by its socket, never cut as slow', async () => {
    const id = newSessionId();
    await store.create(id, { model: 'm', createdAt: Date.now(), tenant: 'test' });
    const { attempt } = await store.begin(id);
    const edge = sys.edges[0]!;
    const before = edge.stats.slowDisconnects;
    // 400 events of 24 KiB, the session still running: one replay page holds far more than
    // SUBSCRIBER_MAX_QUEUE_BYTES (64 KiB here), and the subscriber goes live right after it.
    const big = 'y'.repeat(24 * 1024);
    const n = 400;
    for (let seq = 1; seq < n; seq += 50) {
      await store.append(id, attempt, seq, Array.from({ length: Math.min(50, n - seq) }, () => ({ type: 'delta', text: big }) as const));
    }
    const path = `/v1/sessions/${id}/events?token=${mintToken(id)}`;
    let received = 0;
    const reading = readSse(edge.url, path, { timeoutMs: 60_000, onEvent: () => received++ });
    // A stream that ends early (refused, say) fails here with its status rather than as a timeout.
    let endedEarly: number | undefined;
    void reading.then((r) => (endedEarly = r.status), () => (endedEarly = 0));
    // It has the whole history (or was cut trying to get it).
    for (const deadline = Date.now() + 30_000; received < n - 1 && edge.stats.slowDisconnects === before; ) {
      if (endedEarly !== undefined) throw new Error(`the stream ended early with status ${endedEarly} after ${received} events`);
      if (Date.now() > deadline) throw new Error(`the subscriber got only ${received} of ${n - 1} events`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await store.append(id, attempt, n, [{ type: 'done', finishReason: 'stop' }]);
    const r = await reading;
    expect(edge.stats.slowDisconnects - before).toBe(0);
    expect(r.events.map((e) => e.id)).toEqual(Array.from({ length: n }, (_, i) => String(i + 1)));
    expect(r.events.at(-1)!.event).toBe('done');
  });
});
