import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublisherStoppedError, RelaycastPublisher, type FetchLike } from '../../packages/client/src/index.js';
import { bearer } from '../helpers/auth.js';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/** The TypeScript publisher (packages/client/src/publisher.ts) against real edges and Redis. */
let sys: TestSystem;
beforeAll(async () => {
  sys = await startSystem({ edges: 1 });
});
afterAll(async () => {
  await sys?.close();
});

const isPublish = (url: string) => url.endsWith('/publish');

describe('RelaycastPublisher', () => {
  it('batches writes by size and time, pipes an async iterable, ends once; subscribers get every event in order', async () => {
    const publishes: number[] = [];
    const counting: FetchLike = async (url, init) => {
      if (isPublish(url)) publishes.push((JSON.parse(String(init!.body)) as { events: unknown[] }).events.length);
      return fetch(url, init);
    };
    const rc = new RelaycastPublisher({ baseUrl: sys.edges[0]!.url, apiKey: sys.apiKey, fetch: counting });
    const s = await rc.sessions.create({ label: 'sdk' }, { maxBatch: 50, flushMs: 10 });
    const reading = readSse(sys.edges[0]!.url, s.info.eventsUrl);
    for (let i = 0; i < 120; i++) await s.write({ type: 'delta', text: `${i} ` });
    async function* more() {
      for (let i = 120; i < 200; i++) yield { type: 'delta' as const, text: `${i} ` };
      yield { type: 'app.note', data: { at: 200 } };
    }
    await s.pipe(more());
    await s.end({ type: 'done', finishReason: 'stop' });
    const read = await reading;
    const deltas = read.events.filter((e) => e.event === 'delta').map((e) => (JSON.parse(e.data) as { text: string }).text);
    expect(deltas.join('')).toBe(Array.from({ length: 200 }, (_, i) => `${i} `).join(''));
    expect(read.events.at(-2)).toMatchObject({ event: 'app.note', data: '{"at":200}' });
    expect(read.events.at(-1)!.event).toBe('done');
    expect(read.events.map((e) => Number(e.id))).toEqual(Array.from({ length: 202 }, (_, i) => i + 1));
    // Batched: far fewer requests than events, none above maxBatch.
    expect(publishes.length).toBeLessThan(40);
    expect(Math.max(...publishes)).toBeLessThanOrEqual(50);
    expect(s.acknowledged).toBe(202);
  });

  it('a batch whose answer is lost is retried with the same seq and appended once', async () => {
    let lost = 0;
    const lossy: FetchLike = async (url, init) => {
      const res = await fetch(url, init);
      // The server appended the batch, but the producer never hears back (a timeout on the way back).
      if (isPublish(url) && lost++ === 1) throw new TypeError('fetch failed: socket hang up');
      return res;
    };
    const rc = new RelaycastPublisher({ baseUrl: sys.edges[0]!.url, apiKey: sys.apiKey, fetch: lossy });
    const s = await rc.sessions.create({}, { maxBatch: 2 });
    for (const t of ['a', 'b', 'c', 'd', 'e']) await s.write({ type: 'delta', text: t });
    await s.end();
    const read = await readSse(sys.edges[0]!.url, s.info.eventsUrl);
    expect(read.events.map((e) => e.data)).toEqual(['{"text":"a"}', '{"text":"b"}', '{"text":"c"}', '{"text":"d"}', '{"text":"e"}', '{"finishReason":"stop"}']);
    expect(lost).toBeGreaterThan(2);
  });

  it('write() waits while highWaterMark events are unsent (backpressure)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    const slow: FetchLike = async (url, init) => {
      if (isPublish(url)) await gate;
      return fetch(url, init);
    };
    const rc = new RelaycastPublisher({ baseUrl: sys.edges[0]!.url, apiKey: sys.apiKey, fetch: slow });
    const s = await rc.sessions.create({}, { highWaterMark: 10, maxBatch: 5, flushMs: 1 });
    for (let i = 0; i < 9; i++) await s.write({ type: 'delta', text: 'x' });
    const tenth = s.write({ type: 'delta', text: 'x' }).then(() => order.push('write resolved'));
    await new Promise((r) => setImmediate(r));
    order.push('released');
    release();
    await tenth;
    expect(order).toEqual(['released', 'write resolved']);
    await s.end();
  });

  it('a cancel stops the producer: its signal aborts and writes reject with session_cancelled', async () => {
    const rc = new RelaycastPublisher({ baseUrl: sys.edges[0]!.url, apiKey: sys.apiKey });
    const s = await rc.sessions.create();
    await s.write({ type: 'delta', text: 'working' });
    await s.flush();
    const c = await fetch(new URL(s.info.cancelUrl, sys.edges[0]!.url), { method: 'POST', headers: bearer(s.info.token) });
    expect(c.status).toBe(202);
    await s.write({ type: 'delta', text: 'more' });
    const err = await s.flush().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublisherStoppedError);
    expect((err as PublisherStoppedError).code).toBe('session_cancelled');
    expect(s.signal.aborted).toBe(true);
  });
});
