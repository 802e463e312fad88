import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startIngest } from '../../services/ingest/src/index.js';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { readSse, type ReceivedEvent } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

let sys: TestSystem;
beforeAll(async () => {
  sys = await startSystem({ edges: 2, env: { COALESCE_MS: '0' } });
});
afterAll(() => sys?.close());

const metricValue = (text: string, name: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : undefined;
};

describe('metrics', () => {
  it('the edge counts delivered events, bytes, resumes and responses by route', async () => {
    const s = await sys.create({ messages: [{ role: 'user', content: 'm' }], max_tokens: 5 });
    const full = await readSse(sys.edges[0]!.url, s.eventsUrl);
    await readSse(sys.edges[0]!.url, s.eventsUrl, { lastEventId: '1' });
    const text = await (await fetch(`${sys.edges[0]!.url}/metrics`)).text();
    expect(metricValue(text, 'relaycast_edge_events_delivered_total')).toBeGreaterThanOrEqual(full.events.length * 2 - 1);
    expect(metricValue(text, 'relaycast_edge_bytes_delivered_total')).toBeGreaterThan(0);
    expect(metricValue(text, 'relaycast_edge_resumes_total')).toBeGreaterThanOrEqual(1);
    // The first read may have been partly live; the resume from id 1 is all replay.
    expect(metricValue(text, 'relaycast_edge_events_replayed_total')).toBeGreaterThanOrEqual(full.events.length - 1);
    expect(text).toMatch(/relaycast_edge_http_responses_total\{route="POST \/v1\/sessions",status="2xx"\} \d+/);
    expect(text).toContain('relaycast_edge_open_connections');
    expect(text).not.toContain(s.id);
  });

  it('ingest exposes generation metrics on its own port', async () => {
    const s = await sys.create({ messages: [{ role: 'user', content: 'm' }], max_tokens: 3 });
    await readSse(sys.edges[0]!.url, s.eventsUrl);
    const text = await (await fetch(`http://127.0.0.1:${sys.ingest.metricsPort}/metrics`)).text();
    expect(metricValue(text, 'relaycast_ingest_time_to_first_token_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'relaycast_ingest_append_latency_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/relaycast_ingest_generation_duration_seconds_count\{outcome="done"\} \d+/);
    expect(metricValue(text, 'relaycast_ingest_active_generations')).toBe(0);
  });
});

describe('graceful drain', () => {
  it('a draining edge fails readiness, refuses new requests with 503, and its subscribers resume on the other edge without loss', async () => {
    const extra = await startSystem({ edges: 2, redis: sys.redis, env: { COALESCE_MS: '0' } });
    try {
      const [a, b] = extra.edges as [typeof extra.edges[0], typeof extra.edges[0]];
      const s = await extra.create({ messages: [{ role: 'user', content: 'drain' }], seed: 4, max_tokens: 60, mock: { intervalMs: 15 } });
      const clients = Array.from({ length: 5 }, () => followAcross([a.url, b.url], s.eventsUrl));
      // Drain once every client is connected and receiving.
      await waitUntil(() => a.stats.openConnections === 5);
      const drained = a.drain(300);
      expect(a.state.draining).toBe(true);
      const ready = await fetch(`${a.url}/readyz`).catch(() => undefined);
      if (ready) expect(ready.status).toBe(503);
      await drained;
      const results = await Promise.all(clients);
      const reference = await readSse(b.url, s.eventsUrl);
      for (const events of results) expect(events).toEqual(reference.events);
      expect(reference.events.at(-1)!.event).toBe('done');
    } finally {
      await extra.close();
    }
  });

  it('a draining ingest hands unfinished generations back; another worker resumes them with a reset', async () => {
    const extra = await startSystem({ edges: 1, redis: sys.redis, env: { COALESCE_MS: '0', JOB_ATTEMPTS: '3' } });
    const prompt = 'hand back';
    try {
      const s = await extra.create({ messages: [{ role: 'user', content: prompt }], seed: 9, max_tokens: 80, mock: { intervalMs: 10 } });
      const seen: ReceivedEvent[] = [];
      const reading = readSse(extra.edges[0]!.url, s.eventsUrl, { timeoutMs: 20_000, onEvent: (e) => seen.push(e) });
      await waitUntil(() => seen.length >= 5);
      const second = await startIngest(extra.cfg, pino({ level: 'silent' }));
      try {
        await extra.ingest.drain(0);
        const r = await reading;
        const reset = r.events.findIndex((e) => e.event === 'reset');
        expect(reset).toBeGreaterThan(0);
        expect(JSON.parse(r.events[reset]!.data)).toMatchObject({ attempt: 2 });
        const after = r.events.slice(reset + 1).filter((e) => e.event === 'delta').map((e) => JSON.parse(e.data).text).join('');
        expect(after).toBe(tokensFor(prompt, 9, 80).join(''));
        expect(r.events.at(-1)!.event).toBe('done');
      } finally {
        await second.close();
      }
    } finally {
      await extra.close();
    }
  });
});

/** A client that moves to the next edge whenever its stream ends without a terminal event. */
async function followAcross(edges: string[], path: string): Promise<ReceivedEvent[]> {
  const all: ReceivedEvent[] = [];
  for (let i = 0; i < 20; i++) {
    const last = all.at(-1)?.id;
    const r = await readSse(edges[i % edges.length]!, path, last ? { lastEventId: last } : {}).catch(() => undefined);
    if (!r || r.status === 503) continue;
    if (r.status === 204) return all;
    all.push(...r.events);
    if (['done', 'error', 'cancelled'].includes(all.at(-1)?.event ?? '')) return all;
  }
  throw new Error('no terminal event after 20 connections');
}

async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
