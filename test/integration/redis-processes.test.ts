import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { followEventSource, followRaw, referenceRead, textAfterLastReset, waitForSeq, wire } from '../helpers/clients.js';
import { startProcCluster, type ProcCluster } from '../helpers/procs.js';
import { readSse, type ReceivedEvent } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

describe('real processes: Redis restarted or emptied mid-stream', () => {
  let c: ProcCluster;
  beforeAll(async () => {
    c = await startProcCluster({ edges: 2, workers: 2, env: { SSE_RETRY_MS: '50', COALESCE_MS: '0' } });
  }, 90_000);
  afterAll(() => c?.close());
  beforeEach(async () => {
    await Promise.all([...c.edges, ...c.workers].filter((p) => !p.alive).map((p) => p.start()));
  });

  const atLeast = (id: string, n: number) => waitForSeq(c, id, n);
  const reference = (path: string) => referenceRead(c, path);

  it('Redis SIGKILLed and restarted (append-only file on): appends are retried without loss or duplicate, edges re-subscribe, subscribers finish', async () => {
    const prompt = 'restart redis';
    const s = await c.create({ messages: [{ role: 'user', content: prompt }], seed: 8, max_tokens: 300, mock: { intervalMs: 10 } });
    const clients = [followRaw(c, s.eventsUrl), followEventSource(c, s.eventsUrl)];
    await atLeast(s.id, 30);
    await c.redis.stop();
    await c.redis.restart();
    const results = await Promise.all(clients);
    const ref = await reference(s.eventsUrl);
    expect(ref.at(-1)!.event).toBe('done');
    expect(ref.map((e) => Number(e.id))).toEqual(ref.map((_, i) => i + 1));
    expect(textAfterLastReset(ref)).toBe(tokensFor(prompt, 8, 300).join(''));
    for (const r of results) expect(wire(r.events)).toEqual(wire(ref));
  }, 60_000);

  it('Redis restarted without its data mid-stream: live subscribers end with stream_lost, the session is 404, and nothing else is served under its ids', async () => {
    const prompt = 'lose it all';
    const expected = tokensFor(prompt, 2, 3000).join('');
    const s = await c.create({ messages: [{ role: 'user', content: prompt }], seed: 2, max_tokens: 3000, mock: { intervalMs: 10 } });
    const clients = [followRaw(c, s.eventsUrl, { first: c.edges[0] }), followRaw(c, s.eventsUrl, { first: c.edges[1] }), followEventSource(c, s.eventsUrl)];
    await atLeast(s.id, 30);
    await c.redis.stop();
    await c.redis.restart({ discardData: true });
    for (const r of await Promise.all(clients)) {
      // Told in-band (stream_lost), or, if its connection was cut first, told 404 on reconnect.
      const last = r.events.at(-1)!;
      if (r.finalStatus !== 404) {
        expect(last.event).toBe('error');
        expect(JSON.parse(last.data).code).toBe('stream_lost');
      }
      expect(expected.startsWith(textAfterLastReset(r.events))).toBe(true);
    }
    for (const e of c.edges) {
      expect((await fetch(e.url + s.eventsUrl)).status).toBe(404);
      expect((await fetch(e.url + s.eventsUrl, { headers: { 'last-event-id': '10' } })).status).toBe(404);
      expect((await c.status(s, e)).status).toBe(404);
    }
    // The system works on: a new session (a different text) is served under its own id only.
    const other = await c.create({ messages: [{ role: 'user', content: 'a new life' }], seed: 2, max_tokens: 40 });
    const next = await followRaw(c, other.eventsUrl);
    expect(next.events.at(-1)!.event).toBe('done');
    expect(textAfterLastReset(next.events)).toBe(tokensFor('a new life', 2, 40).join(''));
    for (const e of c.edges) expect((await fetch(e.url + s.eventsUrl, { headers: { 'last-event-id': '1' } })).status).toBe(404);
  }, 60_000);

  it('Redis loses its data (FLUSHALL): live subscribers end with error stream_lost, new requests get 404', async () => {
    const s = await c.create({ messages: [{ role: 'user', content: 'flush' }], max_tokens: 2000, mock: { intervalMs: 10 } });
    const seen: ReceivedEvent[] = [];
    const live = readSse(c.edges[0]!.url, s.eventsUrl, { timeoutMs: 20_000, onEvent: (e) => seen.push(e) });
    await waitFor(() => seen.length >= 10, 10_000, '10 events');
    await c.admin().flushall();
    const res = await live;
    expect(res.events.at(-1)).toMatchObject({ event: 'error' });
    expect(JSON.parse(res.events.at(-1)!.data).code).toBe('stream_lost');
    expect((await fetch(c.edges[1]!.url + s.eventsUrl)).status).toBe(404);
    expect((await c.status(s, c.edges[1])).status).toBe(404);
  }, 60_000);
});
