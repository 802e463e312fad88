import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventSource } from 'eventsource';
import { Redis } from 'ioredis';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { startProcCluster, type ProcCluster } from '../helpers/procs.js';
import { readSse, type ReceivedEvent } from '../helpers/sse.js';

const TERMINAL = new Set(['done', 'error', 'cancelled']);
const TYPES = ['delta', 'usage', 'reset', 'gap', 'done', 'error', 'cancelled'];

/** Raw HTTP client: on any cut, reconnects to an alive edge with its last id (a load balancer's job). */
async function rawFollower(c: ProcCluster, path: string): Promise<ReceivedEvent[]> {
  const all: ReceivedEvent[] = [];
  for (let i = 0; i < 200; i++) {
    const last = all.at(-1)?.id;
    let r;
    try {
      r = await readSse(c.aliveEdge(i).url, path, { ...(last ? { lastEventId: last } : {}), timeoutMs: 30_000 });
    } catch {
      continue; // connection refused or reset by a dying edge
    }
    if (r.status === 204) return all;
    all.push(...r.events);
    if (TERMINAL.has(all.at(-1)?.event ?? '')) return all;
  }
  throw new Error('raw follower never reached a terminal event');
}

/** The `eventsource` package, which reconnects with Last-Event-ID like a browser; fetch routes to an alive edge. */
function browserLike(c: ProcCluster, path: string): Promise<ReceivedEvent[]> {
  return new Promise((resolve, reject) => {
    const got: ReceivedEvent[] = [];
    let n = 0;
    const es = new EventSource(`http://relaycast.invalid${path}`, {
      fetch: (input, init) => fetch(String(input).replace('http://relaycast.invalid', c.aliveEdge(n++).url), init),
    });
    const timer = setTimeout(() => {
      es.close();
      reject(new Error(`eventsource client stuck after ${got.length} events`));
    }, 60_000);
    for (const type of TYPES) {
      es.addEventListener(type, (e) => {
        // EventSource also fires a plain `error` Event on every connection failure; only Relaycast's own
        // `event: error` frame is a MessageEvent with data.
        if (type === 'error' && typeof (e as MessageEvent).data !== 'string') return;
        got.push({ id: e.lastEventId, event: type, data: e.data });
        if (TERMINAL.has(type)) {
          es.close();
          clearTimeout(timer);
          resolve(got);
        }
      });
    }
  });
}

const textAfterLastReset = (events: ReceivedEvent[]) => {
  let text = '';
  for (const e of events) {
    if (e.event === 'reset') text = '';
    if (e.event === 'delta') text += (JSON.parse(e.data) as { text: string }).text;
  }
  return text;
};
const waitFor = async (cond: () => Promise<boolean> | boolean, ms: number, what: string) => {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('real processes: edges, workers and Redis killed mid-stream', () => {
  let c: ProcCluster;
  beforeAll(async () => {
    c = await startProcCluster({ edges: 2, workers: 2, env: { SSE_RETRY_MS: '50', COALESCE_MS: '0' } });
  }, 60_000);
  afterAll(() => c?.close());

  it('edges SIGKILLed at 10 positions (one during a late joiner\'s replay): every client ends byte-identical to a fault-free read', async () => {
    // A generation longer than any kill loop, cancelled after the tenth kill: every kill lands mid-stream
    // however slowly the edges restart on a loaded 2-core machine (a fixed length raced the loop).
    const s = await c.create({ messages: [{ role: 'user', content: 'kill the edges' }], seed: 3, max_tokens: 100_000, mock: { intervalMs: 10 } });
    const running = async () => ((await (await fetch(c.aliveEdge().url + s.statusUrl, { headers: c.auth })).json()) as { status: string }).status === 'running';
    const clients: Promise<ReceivedEvent[]>[] = [rawFollower(c, s.eventsUrl), rawFollower(c, s.eventsUrl), browserLike(c, s.eventsUrl)];
    let kills = 0;
    for (let i = 0; kills < 10; i++) {
      await new Promise((r) => setTimeout(r, 150));
      const victim = c.edges[i % 2]!;
      // Halfway, a client joins from the start, so the next kill lands while it replays.
      if (kills === 5) clients.push(rawFollower(c, s.eventsUrl));
      // Every kill lands mid-stream.
      expect(await running()).toBe(true);
      await victim.kill('SIGKILL');
      kills++;
      await victim.start();
    }
    expect((await fetch(c.aliveEdge().url + s.cancelUrl, { method: 'POST', headers: c.auth })).status).toBe(202);
    const results = await Promise.all(clients);
    const reference = await readSse(c.aliveEdge().url, s.eventsUrl);
    expect(reference.events.at(-1)!.event).toBe('cancelled');
    for (const events of results) {
      expect(events.map((e) => [e.id, e.event, e.data])).toEqual(reference.events.map((e) => [e.id, e.event, e.data]));
    }
    const text = textAfterLastReset(reference.events);
    expect(text.length).toBeGreaterThan(0);
    expect(tokensFor('kill the edges', 3, 100_000).join('').startsWith(text)).toBe(true);
  }, 90_000);

  it('an ingest worker SIGKILLed mid-generation: the other takes the job over, appends reset {attempt: 2} and finishes', async () => {
    const prompt = 'kill the worker';
    const s = await c.create({ messages: [{ role: 'user', content: prompt }], seed: 5, max_tokens: 300, mock: { intervalMs: 10 } });
    const follower = rawFollower(c, s.eventsUrl);
    // The worker running it reports one active generation.
    const victim = await c.activeWorker();
    await waitFor(async () => Number(((await (await fetch(c.aliveEdge().url + s.statusUrl, { headers: c.auth })).json()) as { lastEventId: string }).lastEventId) >= 20, 10_000, '20 events');
    await victim.kill('SIGKILL');
    const events = await follower;
    const reset = events.find((e) => e.event === 'reset');
    expect(reset).toBeDefined();
    expect(JSON.parse(reset!.data)).toMatchObject({ attempt: 2 });
    expect(events.at(-1)!.event).toBe('done');
    expect(textAfterLastReset(events)).toBe(tokensFor(prompt, 5, 300).join(''));
    expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1));
    await victim.start();
  }, 60_000);

  it('Redis SIGKILLed and restarted (append-only file on): appends are retried without loss or duplicate and subscribers finish', async () => {
    const prompt = 'restart redis';
    const s = await c.create({ messages: [{ role: 'user', content: prompt }], seed: 8, max_tokens: 300, mock: { intervalMs: 10 } });
    const followers = [rawFollower(c, s.eventsUrl), browserLike(c, s.eventsUrl)];
    await waitFor(async () => Number(((await (await fetch(c.aliveEdge().url + s.statusUrl, { headers: c.auth })).json()) as { lastEventId: string }).lastEventId) >= 30, 10_000, '30 events');
    await c.redis.stop();
    await new Promise((r) => setTimeout(r, 300));
    await c.redis.restart();
    const [raw, es] = await Promise.all(followers);
    for (const events of [raw!, es!]) {
      expect(events.at(-1)!.event).toBe('done');
      expect(events.map((e) => Number(e.id))).toEqual(events.map((_, i) => i + 1));
      expect(textAfterLastReset(events)).toBe(tokensFor(prompt, 8, 300).join(''));
    }
    expect(raw!.map((e) => e.data)).toEqual(es!.map((e) => e.data));
  }, 60_000);

  it('Redis loses its data (FLUSHALL): live subscribers end with error stream_lost, new requests get 404', async () => {
    const s = await c.create({ messages: [{ role: 'user', content: 'flush' }], max_tokens: 2000, mock: { intervalMs: 10 } });
    const seen: ReceivedEvent[] = [];
    const live = readSse(c.edges[0]!.url, s.eventsUrl, { timeoutMs: 20_000, onEvent: (e) => seen.push(e) });
    await waitFor(() => seen.length >= 10, 10_000, '10 events');
    const r = new Redis(c.redis.url);
    await r.flushall();
    r.disconnect();
    const res = await live;
    expect(res.events.at(-1)).toMatchObject({ event: 'error' });
    expect(JSON.parse(res.events.at(-1)!.data).code).toBe('stream_lost');
    expect((await fetch(c.edges[1]!.url + s.eventsUrl)).status).toBe(404);
    expect((await fetch(c.edges[1]!.url + s.statusUrl, { headers: c.auth })).status).toBe(404);
  }, 60_000);
});
