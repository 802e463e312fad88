import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { startSystem, type TestSystem } from '../helpers/system.js';
import { readSse, type ReceivedEvent } from '../helpers/sse.js';
import { mintToken } from '../helpers/auth.js';

let sys: TestSystem;
beforeAll(async () => {
  sys = await startSystem({ edges: 2, env: { UPSTREAM_IDLE_TIMEOUT_MS: '800', UPSTREAM_MAX_ATTEMPTS: '2' } });
});
afterAll(async () => {
  await sys?.close();
});

const ask = (extra: Record<string, unknown> = {}) => ({ messages: [{ role: 'user', content: 'tell me a story' }], seed: 7, ...extra });
const textOf = (events: ReceivedEvent[]) => events.filter((e) => e.event === 'delta').map((e) => (JSON.parse(e.data) as { text: string }).text).join('');
const edge = (i = 0) => sys.edges[i]!.url;
const ids = (events: ReceivedEvent[]) => events.map((e) => Number(e.id));

async function finished(body: Record<string, unknown>) {
  const s = await sys.create(body);
  const full = await readSse(edge(), s.eventsUrl);
  return { s, full };
}

describe('one session, many subscribers', () => {
  it('three subscribers of one session receive identical, complete, contiguous sequences ending in done', async () => {
    const s = await sys.create(ask({ max_tokens: 40, mock: { intervalMs: 5 } }));
    const results = await Promise.all([0, 1, 2].map(() => readSse(edge(), s.eventsUrl)));
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.ended).toBe(true);
      expect(r.events.at(-1)!.event).toBe('done');
      expect(ids(r.events)).toEqual(r.events.map((_, i) => i + 1));
      expect(r.raw).toBe(results[0]!.raw);
    }
    const status = (await (await fetch(edge() + s.statusUrl, { headers: sys.auth })).json()) as { text: string; status: string; lastEventId: string };
    expect(status.status).toBe('done');
    expect(textOf(results[0]!.events)).toBe(status.text);
    expect(status.text.length).toBeGreaterThan(0);
    expect(status.lastEventId).toBe(results[0]!.events.at(-1)!.id);
  });

  it('sends the SSE headers, retry and a flushing comment before any event', async () => {
    const { s, full } = await finished(ask({ max_tokens: 3 }));
    expect(full.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(full.headers['cache-control']).toBe('no-cache, no-transform');
    expect(full.headers['x-accel-buffering']).toBe('no');
    expect(full.headers['content-encoding']).toBeUndefined();
    expect(full.raw.startsWith('retry: ')).toBe(true);
    expect(full.raw).toMatch(/^retry: \d+\n\n:ok\n\nid: 1\n/);
    expect(s.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('subscribers on two edges see identical sequences', async () => {
    const s = await sys.create(ask({ max_tokens: 30, mock: { intervalMs: 5 } }), 1);
    const [a, b] = await Promise.all([readSse(edge(0), s.eventsUrl), readSse(edge(1), s.eventsUrl)]);
    expect(a.raw).toBe(b.raw);
    expect(a.events.at(-1)!.event).toBe('done');
  });
});

describe('resume with Last-Event-ID', () => {
  it('after a finished session, resuming at k yields exactly events k+1..n (k = 0, 1, middle, n-1)', async () => {
    const { s, full } = await finished(ask({ max_tokens: 25 }));
    const n = full.events.length;
    for (const k of [0, 1, Math.floor(n / 2), n - 1]) {
      const r = await readSse(edge(k % 2), s.eventsUrl, { lastEventId: String(k) });
      expect(r.events).toEqual(full.events.slice(k));
    }
  });

  it('answers 204 at or past the terminal event, so EventSource stops reconnecting', async () => {
    const { s, full } = await finished(ask({ max_tokens: 5 }));
    const n = full.events.length;
    const r = await readSse(edge(), s.eventsUrl, { lastEventId: String(n) });
    expect(r.status).toBe(204);
    expect(r.events).toEqual([]);
  });

  it('accepts the cursor as the lastEventId query parameter when no header is sent', async () => {
    const { s, full } = await finished(ask({ max_tokens: 10 }));
    const r = await readSse(edge(), s.eventsUrl, { query: { lastEventId: '4' } });
    expect(r.events).toEqual(full.events.slice(4));
  });

  it('a subscriber that drops mid-stream after k events and resumes on the other edge gets exactly the rest', async () => {
    for (const k of [1, 7, 15]) {
      const s = await sys.create(ask({ max_tokens: 30, seed: k, mock: { intervalMs: 10 } }));
      const first = await readSse(edge(0), s.eventsUrl, { stopAfter: k });
      expect(first.events).toHaveLength(k);
      const rest = await readSse(edge(1), s.eventsUrl, { lastEventId: first.events.at(-1)!.id! });
      const all = [...first.events, ...rest.events];
      expect(ids(all)).toEqual(all.map((_, i) => i + 1));
      expect(all.at(-1)!.event).toBe('done');
      const reference = await readSse(edge(0), s.eventsUrl);
      expect(all).toEqual(reference.events);
    }
  });
});

describe('every upstream outcome ends with the right terminal event', () => {
  const cases: [string, string, string][] = [
    ['status:500', 'error', 'upstream_http'],
    ['status:400', 'error', 'upstream_http'],
    ['drop:3', 'error', 'upstream_network'],
    ['stall:2', 'error', 'upstream_timeout'],
    ['malformed:2', 'error', 'upstream_protocol'],
    ['truncate:3', 'error', 'upstream_truncated'],
    ['error:2', 'error', 'upstream_error'],
  ];
  it.each(cases)('fault %s ends with %s %s', async (fault, type, code) => {
    const { full } = await finished(ask({ max_tokens: 10, mock: { fault } }));
    const terminals = full.events.filter((e) => ['done', 'error', 'cancelled'].includes(e.event!));
    expect(terminals).toHaveLength(1);
    expect(full.events.at(-1)!.event).toBe(type);
    expect(JSON.parse(full.events.at(-1)!.data).code).toBe(code);
  });

  it("an in-band error frame ends with error carrying the provider's message, after the deltas before it", async () => {
    const { full } = await finished(ask({ max_tokens: 10, mock: { fault: 'error:3', intervalMs: 5 } }));
    const err = JSON.parse(full.events.at(-1)!.data) as { code: string; message: string; retryable: boolean };
    expect(full.events.at(-1)!.event).toBe('error');
    // A server_error could pass on a new request, so it is marked retryable; this one came after content, so
    // Relaycast itself did not retry it (the deltas below are the first attempt's).
    expect(err).toEqual({ code: 'upstream_error', message: 'server_error: mock in-band error', retryable: true });
    expect(textOf(full.events)).toBe(tokensFor('tell me a story', 7, 3).join(''));
  });

  it('deltas sent before a mid-stream drop are kept, then the error follows', async () => {
    const { full } = await finished(ask({ max_tokens: 10, mock: { fault: 'drop:4', intervalMs: 5 } }));
    // Paced like a real model: undici drops bytes still unread when the socket dies, so a burst would lose them all.
    expect(full.events.filter((e) => e.event === 'delta').length).toBeGreaterThan(0);
    expect(full.events.at(-1)!.event).toBe('error');
  });

  it('an unreachable upstream ends with an error', async () => {
    const other = await startSystem({ redis: sys.redis, env: { MOCK_MODEL_URL: 'http://127.0.0.1:9', UPSTREAM_MAX_ATTEMPTS: '1' } });
    try {
      const s = await other.create(ask());
      const r = await readSse(other.edges[0]!.url, s.eventsUrl);
      expect(r.events.at(-1)!.event).toBe('error');
      expect(JSON.parse(r.events.at(-1)!.data).code).toBe('upstream_unreachable');
    } finally {
      await other.close();
    }
  });

  it('a clean finish reports finish reason and usage', async () => {
    const { full } = await finished(ask({ max_tokens: 6 }));
    const done = JSON.parse(full.events.at(-1)!.data);
    expect(done.finishReason).toBe('length');
    expect(done.usage).toMatchObject({ outputTokens: 6, estimated: false });
  });
});

describe('cancel', () => {
  it('cancelling a running session aborts the upstream and ends with cancelled within 1 s', async () => {
    const s = await sys.create(ask({ max_tokens: 2000, mock: { intervalMs: 20 } }));
    let cancelAt = 0;
    const r = await readSse(edge(), s.eventsUrl, {
      onEvent: (e) => {
        if (e.event === 'delta' && e.id === '3') {
          cancelAt = Date.now();
          void fetch(edge(1) + s.cancelUrl, { method: 'POST', headers: sys.auth }).then((res) => expect(res.status).toBe(202));
        }
      },
    });
    expect(r.events.at(-1)!.event).toBe('cancelled');
    expect(Date.now() - cancelAt).toBeLessThan(1000);
    expect(r.events.filter((e) => e.event === 'delta').length).toBeLessThan(100);
    const status = (await (await fetch(edge() + s.statusUrl, { headers: sys.auth })).json()) as { status: string };
    expect(status.status).toBe('cancelled');
  });

  it('cancel of an ended session is accepted and changes nothing', async () => {
    const { s, full } = await finished(ask({ max_tokens: 3 }));
    const res = await fetch(edge() + s.cancelUrl, { method: 'POST', headers: sys.auth });
    expect(res.status).toBe(202);
    expect((await readSse(edge(), s.eventsUrl)).events).toEqual(full.events);
  });
});

describe('bad requests', () => {
  const post = (body: string, type = 'application/json') => fetch(edge() + '/v1/sessions', { method: 'POST', headers: { 'content-type': type, ...sys.auth }, body });
  const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;

  it('400 for malformed JSON, wrong types and unknown models, with {error: {code, message}}', async () => {
    for (const [body, code] of [
      ['{', 'invalid_json'],
      ['{"messages": "hi"}', 'invalid_request'],
      ['{"messages": []}', 'invalid_request'],
      ['{"messages": [{"role": "user", "content": 1}]}', 'invalid_request'],
      ['{"messages": [{"role": "user", "content": "x"}], "model": "nope"}', 'unknown_model'],
      ['{"messages": [{"role": "user", "content": "x"}], "extra": 1}', 'invalid_request'],
    ] as const) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      const err = await errorOf(res);
      expect(err.code, body).toBe(code);
      expect(err.message.length).toBeGreaterThan(0);
    }
  });

  it('413 for an oversized body', async () => {
    const res = await post(JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(sys.cfg.MAX_BODY_BYTES) }] }));
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('body_too_large');
  });

  it('400 for a Last-Event-ID of invalid syntax', async () => {
    const { s } = await finished(ask({ max_tokens: 2 }));
    for (const bad of ['abc', '-1', '1-0']) {
      const r = await readSse(edge(), s.eventsUrl, { lastEventId: bad });
      expect(r.status).toBe(400);
      expect(JSON.parse(r.raw).error.code).toBe('invalid_cursor');
    }
  });

  it('404 for unknown sessions and ids with path tricks (to an authenticated caller)', async () => {
    for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', 'nope', '..%2F..%2Fetc', '%00']) {
      // A correctly signed token for an id no session has: authentication passes, the session is missing.
      for (const path of [`/v1/sessions/${id}/events?token=${mintToken(id)}`, `/v1/sessions/${id}`]) {
        const res = await fetch(edge() + path, { headers: path.includes('?') ? {} : sys.auth });
        expect(res.status, path).toBe(404);
        expect((await errorOf(res)).code).toBe('session_not_found');
      }
      expect((await fetch(`${edge()}/v1/sessions/${id}/cancel`, { method: 'POST', headers: sys.auth })).status).toBe(404);
    }
  });

  it('405 for a wrong method and 404 for unknown routes', async () => {
    const res = await fetch(edge() + '/v1/sessions');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect((await fetch(edge() + '/nope')).status).toBe(404);
  });

  it('health and readiness', async () => {
    expect((await fetch(edge() + '/healthz')).status).toBe(200);
    expect((await fetch(edge() + '/readyz')).status).toBe(200);
  });
});
