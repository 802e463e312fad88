import { connect, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

let sys: TestSystem;
let admin: Redis;
beforeAll(async () => {
  sys = await startSystem({ edges: 1, env: { MAX_CONNECTIONS: '4', MAX_MESSAGES: '3', MAX_MESSAGE_CHARS: '50', UPSTREAM_MAX_ATTEMPTS: '3', UPSTREAM_RETRY_BASE_MS: '5' } });
  admin = new Redis(sys.redis.url);
});
afterAll(async () => {
  admin?.disconnect();
  await sys?.close();
});

const edge = () => sys.edges[0]!.url;
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;

/** Sends raw bytes (what a well-behaved client library would refuse to send) and returns the reply. */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(sys.edges[0]!.port, '127.0.0.1', () => s.write(request));
    let out = '';
    s.on('data', (c) => (out += c.toString('latin1')));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

describe('bad input gets a clear status and {error: {code, message}}, and the server is unharmed', () => {
  const post = (body: unknown) => fetch(`${edge()}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...sys.auth }, body: JSON.stringify(body) });

  it('413 for too many messages', async () => {
    const res = await post({ messages: Array.from({ length: 4 }, () => ({ role: 'user', content: 'x' })) });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).code).toBe('too_many_messages');
  });

  it('413 for a message longer than MAX_MESSAGE_CHARS, 201 at exactly the limit', async () => {
    const res = await post({ messages: [{ role: 'user', content: 'x' }, { role: 'user', content: 'y'.repeat(51) }] });
    expect(res.status).toBe(413);
    const err = await errorOf(res);
    expect(err.code).toBe('message_too_large');
    expect(err.message).toContain('messages.1.content');
    const fits = await post({ messages: [{ role: 'user', content: 'y'.repeat(50) }], max_tokens: 1 });
    expect(fits.status).toBe(201);
    await fetch(`${edge()}${((await fits.json()) as { cancelUrl: string }).cancelUrl}`, { method: 'POST', headers: sys.auth });
  });

  it('400 for a Last-Event-ID carrying CR, LF or NUL (query form), and for raw CR/NUL bytes in the header', async () => {
    const s = await sys.create({ messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
    for (const bad of ['1\r', '1\n2', '1\u0000', '1\r\nevent: x']) {
      const r = await readSse(edge(), s.eventsUrl, { query: { lastEventId: bad } });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(JSON.parse(r.raw).error.code).toBe('invalid_cursor');
    }
    for (const header of ['Last-Event-ID: 1\u0000', 'Last-Event-ID: 1\rX']) {
      const reply = await raw(`GET ${s.eventsUrl} HTTP/1.1\r\nHost: x\r\n${header}\r\n\r\n`);
      expect(reply).toMatch(/^HTTP\/1\.1 400 /);
      expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).error.code).toBe('bad_request');
    }
    expect((await fetch(`${edge()}/healthz`)).status).toBe(200);
  });

  it('503 with Retry-After once the edge holds MAX_CONNECTIONS streams', async () => {
    const s = await sys.create({ messages: [{ role: 'user', content: 'x' }], max_tokens: 5000, mock: { intervalMs: 50 } });
    const streams = Array.from({ length: 4 }, () => new AbortController());
    const opened = streams.map((ac) => fetch(edge() + s.eventsUrl, { signal: ac.signal }));
    await Promise.all(opened);
    try {
      const over = await fetch(edge() + s.eventsUrl);
      expect(over.status).toBe(503);
      expect(over.headers.get('retry-after')).toBe('1');
      expect((await errorOf(over)).code).toBe('edge_full');
    } finally {
      for (const ac of streams) ac.abort();
      await fetch(`${edge()}${s.cancelUrl}`, { method: 'POST', headers: sys.auth });
    }
  });

  it.each([429, 500, 503])('an upstream %i before the first token is retried UPSTREAM_MAX_ATTEMPTS times, then ends with error', async (status) => {
    const before = await mockRequests();
    const s = await sys.create({ messages: [{ role: 'user', content: 'x' }], mock: { fault: `status:${status}` } });
    const r = await readSse(edge(), s.eventsUrl);
    expect(r.events.filter((e) => e.event === 'error')).toHaveLength(1);
    expect(r.events.at(-1)!.event).toBe('error');
    expect(JSON.parse(r.events.at(-1)!.data)).toMatchObject({ code: 'upstream_http', retryable: true });
    expect(JSON.parse(r.events.at(-1)!.data).message).toContain(String(status));
    expect((await mockRequests()) - before).toBe(3);
  });

  it('an upstream 400 is not retried: one request, then error', async () => {
    const before = await mockRequests();
    const s = await sys.create({ messages: [{ role: 'user', content: 'x' }], mock: { fault: 'status:400' } });
    const r = await readSse(edge(), s.eventsUrl);
    expect(JSON.parse(r.events.at(-1)!.data)).toMatchObject({ code: 'upstream_http', retryable: false });
    expect((await mockRequests()) - before).toBe(1);
  });

  it('a connection flood past MAX_CONNECTIONS: at most the cap is served, the rest get 503, and the edge recovers', async () => {
    const e = sys.edges[0]!;
    const s = await sys.create({ messages: [{ role: 'user', content: 'x' }], max_tokens: 5000, mock: { intervalMs: 50 } });
    const streams = Array.from({ length: 40 }, () => new AbortController());
    try {
      // All at once: each request checks the cap before the others have been counted.
      const replies = await Promise.all(streams.map((ac) => fetch(edge() + s.eventsUrl, { signal: ac.signal })));
      const served = replies.filter((r) => r.status === 200);
      const refused = replies.filter((r) => r.status === 503);
      expect(served.length).toBeLessThanOrEqual(4);
      expect(served.length + refused.length).toBe(40);
      for (const r of refused) expect((await errorOf(r)).code).toBe('edge_full');
      expect(e.stats.openConnections).toBeLessThanOrEqual(4);
    } finally {
      for (const ac of streams) ac.abort();
    }
    await waitFor(() => e.stats.openConnections === 0 && e.hub.sessionCount === 0, 10_000, 'the flood to be released');
    expect((await fetch(`${edge()}/healthz`)).status).toBe(200);
    const after = await readSse(edge(), s.eventsUrl, { stopAfter: 1 });
    expect(after.status).toBe(200);
    await fetch(`${edge()}${s.cancelUrl}`, { method: 'POST', headers: sys.auth });
  });

  it('a client that leaves while its session is being looked up holds no connection slot and no subscription', async () => {
    const e = sys.edges[0]!;
    const s = await sys.create({ messages: [{ role: 'user', content: 'x' }], max_tokens: 5000, mock: { intervalMs: 20 } });
    // A slow Redis reply, exactly at the lookup (the admission script): the client gives up and goes while
    // the edge still waits.
    const limits = e.connections;
    const admit = limits.admit.bind(limits);
    let entered!: () => void;
    let release!: () => void;
    let answered!: () => void;
    const lookupStarted = new Promise<void>((r) => (entered = r));
    const held = new Promise<void>((r) => (release = r));
    const lookupAnswered = new Promise<void>((r) => (answered = r));
    limits.admit = async (...args) => {
      entered();
      await held;
      const m = await admit(...args);
      answered();
      return m;
    };
    try {
      const serverSide = new Promise<Socket>((resolve) => e.server.once('connection', resolve));
      const client = connect(e.port, '127.0.0.1', () => client.write(`GET ${s.eventsUrl} HTTP/1.1\r\nHost: x\r\n\r\n`));
      client.on('error', () => undefined);
      const socket = await serverSide;
      await lookupStarted;
      const gone = new Promise((r) => socket.once('close', r));
      client.destroy();
      await gone;
      release();
      // The handler resumes right after the lookup answers; by the next macrotask it has done what it will do.
      await lookupAnswered;
      await new Promise((r) => setImmediate(r));
    } finally {
      limits.admit = admit;
      release();
    }
    expect(e.stats.openConnections).toBe(0);
    expect(e.hub.sessionCount).toBe(0);
    await fetch(`${edge()}${s.cancelUrl}`, { method: 'POST', headers: sys.auth });
  });

  it("400 for a Last-Event-ID that is garbage or another session's id; a cursor past the end never yields anything", async () => {
    const a = await sys.create({ messages: [{ role: 'user', content: 'a' }], max_tokens: 5 });
    const b = await sys.create({ messages: [{ role: 'user', content: 'b' }], max_tokens: 20, mock: { intervalMs: 5 } });
    const full = await readSse(edge(), a.eventsUrl);
    const longer = await readSse(edge(), b.eventsUrl);
    expect(longer.events.length).toBeGreaterThan(full.events.length);
    for (const bad of [b.id, `${b.id}:12`, '1.5', '1e3', '0x10', '+1', '9'.repeat(16), 'null']) {
      const r = await readSse(edge(), a.eventsUrl, { lastEventId: bad });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(JSON.parse(r.raw).error.code).toBe('invalid_cursor');
    }
    // An id of the other, longer session is past this one's terminal event: nothing to send.
    const past = await readSse(edge(), a.eventsUrl, { lastEventId: longer.events.at(-1)!.id! });
    expect(past.status).toBe(204);
    expect(past.events).toEqual([]);
  });

  it('a cursor past the end of a running session ends that client with the session and harms no other subscriber', async () => {
    const e = sys.edges[0]!;
    const s = await sys.create({ messages: [{ role: 'user', content: 'far cursor' }], max_tokens: 30, mock: { firstTokenMs: 600, intervalMs: 10 } });
    const xranges = async () => Number(/cmdstat_xrange:calls=(\d+)/.exec(String(await admin.info('commandstats')))?.[1] ?? 0);
    const before = await xranges();
    // First on this edge, before any event exists: the bogus cursor must not become the edge's idea of the stream's end.
    const far = readSse(edge(), s.eventsUrl, { lastEventId: '100000', timeoutMs: 20_000 });
    await waitFor(() => e.stats.openConnections === 1, 5_000, 'the far cursor to connect');
    const honest = readSse(edge(), s.eventsUrl, { timeoutMs: 20_000 });
    const [f, h] = await Promise.all([far, honest]);
    const reference = await readSse(edge(), s.eventsUrl);
    expect(reference.events.at(-1)!.event).toBe('done');
    expect(h.events).toEqual(reference.events);
    // Nothing of this session is past 100000: the far client is sent nothing and let go when the session ends.
    expect(f.status).toBe(200);
    expect(f.events).toEqual([]);
    expect(f.ended).toBe(true);
    // The honest subscriber went live rather than re-reading the stream in a loop.
    expect((await xranges()) - before).toBeLessThan(20);
  });
});

async function mockRequests(): Promise<number> {
  return ((await (await fetch(`${sys.mockUrl}/v1/mock/stats`)).json()) as { requests: number }).requests;
}
