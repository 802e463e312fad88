// The event stream's own path (routes/events.ts, raw-http.ts): answered before Express on a socket taken
// out of node's HTTP machinery. These pin what that path must keep from the middleware it bypasses
// (security headers, request id, CORS, drain, metrics), HEAD, and that a held stream is really detached.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { newSessionId } from '@relaycast/protocol';
import { SessionStore, keySpace } from '@relaycast/store';
import { startEdge } from '../../services/edge/src/index.js';
import { SECURITY_HEADERS } from '../../services/edge/src/security-headers.js';
import { mintToken } from '../helpers/auth.js';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

const ORIGIN = 'https://app.example';
let sys: TestSystem;
let redis: Redis;
let store: SessionStore;
beforeAll(async () => {
  sys = await startSystem({ edges: 1, env: { CORS_ORIGINS: ORIGIN } });
  redis = new Redis(sys.redis.url);
  store = new SessionStore(redis, keySpace(sys.cfg.REDIS_KEY_PREFIX), { maxLen: 100_000, retentionSeconds: 600, openTtlSeconds: 600 });
});
afterAll(async () => {
  redis?.disconnect();
  await sys?.close();
});

async function session(): Promise<{ id: string; path: string; append(from: number, n: number, done?: boolean): Promise<void> }> {
  const id = newSessionId();
  await store.create(id, { model: 'm', createdAt: Date.now(), tenant: 'test' });
  const { attempt } = await store.begin(id);
  return {
    id,
    path: `/v1/sessions/${id}/events?token=${mintToken(id)}`,
    append: (from, n, done = false) =>
      store.append(id, attempt, from, Array.from({ length: n }, (_, k) => (done && k === n - 1 ? ({ type: 'done', finishReason: 'stop' } as const) : ({ type: 'delta', text: `t${from + k}` } as const)))).then(() => undefined),
  };
}

/** Sends a raw request and collects everything until the server closes the connection. */
function raw(port: number, request: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const c = connect(port, '127.0.0.1', () => c.write(request));
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', reject);
    c.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const at = text.indexOf('\r\n\r\n');
      resolve({ head: text.slice(0, at), body: text.slice(at + 4) });
    });
  });
}

function expectSecurityHeaders(h: Headers, cacheControl: string): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) if (name !== 'Cache-Control') expect(h.get(name), name).toBe(value);
  expect(h.get('cache-control')).toBe(cacheControl);
}

describe('the event stream path', () => {
  it('a stream carries the security headers, the request id, CORS for an allowed origin, and is close-delimited', async () => {
    const s = await session();
    const ctl = new AbortController();
    const res = await fetch(sys.edges[0]!.url + s.path, { headers: { 'x-request-id': 'sse-path-1', origin: ORIGIN }, signal: ctl.signal });
    expect(res.status).toBe(200);
    expectSecurityHeaders(res.headers, 'no-cache, no-transform');
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('x-request-id')).toBe('sse-path-1');
    expect(res.headers.get('vary')).toBe('Origin');
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(res.headers.get('access-control-expose-headers')).toContain('X-Request-Id');
    expect(res.headers.get('transfer-encoding')).toBeNull();
    expect(res.headers.get('connection')).toBe('close');
    ctl.abort();
    // Any other origin gets no CORS header, and a generated id when it sends none.
    const other = new AbortController();
    const res2 = await fetch(sys.edges[0]!.url + s.path, { headers: { origin: 'https://evil.example' }, signal: other.signal });
    expect(res2.headers.get('access-control-allow-origin')).toBeNull();
    expect(res2.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    other.abort();
    await waitFor(() => sys.edges[0]!.stats.openConnections === 0, 5_000, 'streams to close');
  });

  it('refusals on the path are JSON errors with the same headers (404, 401, 400)', async () => {
    const s = await session();
    const url = sys.edges[0]!.url;
    const cases: [string, number, string][] = [
      [`/v1/sessions/not-an-id/events?token=${mintToken('x')}`, 404, 'session_not_found'],
      [`/v1/sessions/${s.id}/events`, 401, 'unauthorized'],
      [`/v1/sessions/${s.id}/events?token=rt_forged.forged`, 401, 'unauthorized'],
      [`${s.path}&lastEventId=abc`, 400, 'invalid_cursor'],
    ];
    for (const [path, status, code] of cases) {
      const res = await fetch(url + path, { headers: { 'x-request-id': 'sse-path-2', origin: ORIGIN } });
      expect(res.status, path).toBe(status);
      expectSecurityHeaders(res.headers, 'no-store');
      expect(res.headers.get('x-request-id')).toBe('sse-path-2');
      expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    // Other methods still reach Express's 405.
    const post = await fetch(url + s.path, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
  });

  it('HEAD gets the stream headers and no body, holds no slot and subscribes to nothing', async () => {
    const s = await session();
    await s.append(1, 3);
    const edge = sys.edges[0]!;
    const { head, body } = await raw(edge.port, `HEAD ${s.path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/\r\nContent-Type: text\/event-stream; charset=utf-8\r\n/i);
    expect(head).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/i);
    expect(body).toBe('');
    expect(edge.stats.openConnections).toBe(0);
    expect(edge.hub.sessionCount).toBe(0);
    const slots = await redis.hgetall(keySpace(sys.cfg.REDIS_KEY_PREFIX).limits.sessionConnections(s.id));
    expect(Number(slots[`c:${edge.edgeId}`] ?? 0)).toBe(0);
  });

  it('a held stream is detached from node\'s HTTP machinery: no parser, no response on its socket', async () => {
    const s = await session();
    const edge = sys.edges[0]!;
    const serverSide = new Promise<Socket>((resolve) => edge.server.once('connection', resolve));
    const c = connect(edge.port, '127.0.0.1', () => c.write(`GET ${s.path} HTTP/1.1\r\nHost: x\r\n\r\n`));
    let text = '';
    c.on('data', (d: Buffer) => (text += d.toString()));
    c.on('error', () => undefined);
    const socket = (await serverSide) as Socket & { parser?: unknown; _httpMessage?: unknown };
    await waitFor(() => edge.hub.sessionCount === 1 && text.includes(':ok'), 5_000, 'the stream to register');
    expect(socket.parser).toBeNull();
    expect(socket._httpMessage).toBeNull();
    // Still a working stream: an event appended now arrives.
    await s.append(1, 1);
    await waitFor(() => text.includes('id: 1\n'), 5_000, 'the event to arrive');
    c.destroy();
    await waitFor(() => edge.stats.openConnections === 0 && edge.hub.sessionCount === 0, 5_000, 'the stream to be released');
  });

  it('a client that half-closes its side is released (slot, subscription, count)', async () => {
    const s = await session();
    const edge = sys.edges[0]!;
    const c = connect(edge.port, '127.0.0.1', () => c.write(`GET ${s.path} HTTP/1.1\r\nHost: x\r\n\r\n`));
    c.on('error', () => undefined);
    c.on('data', () => undefined);
    await waitFor(() => edge.hub.sessionCount === 1, 5_000, 'the stream to register');
    const closed = new Promise((r) => c.on('close', r));
    c.end();
    await closed;
    await waitFor(() => edge.stats.openConnections === 0 && edge.hub.sessionCount === 0, 5_000, 'the stream to be released');
    await waitFor(async () => Number((await redis.hget(keySpace(sys.cfg.REDIS_KEY_PREFIX).limits.sessionConnections(s.id), `c:${edge.edgeId}`)) ?? 0) === 0, 5_000, 'the session slot to be given back');
  });

  it('counts stream responses by route and status class in /metrics', async () => {
    const s = await session();
    const edge = sys.edges[0]!;
    const count = async (status: string) => {
      const m = await (await fetch(`${edge.url}/metrics`)).text();
      const line = m.split('\n').find((l) => l.startsWith('relaycast_edge_http_responses_total{') && l.includes('route="GET /v1/sessions/:id/events"') && l.includes(`status="${status}"`));
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    const [ok0, bad0] = [await count('2xx'), await count('4xx')];
    await s.append(1, 2, true);
    const r = await readSse(edge.url, s.path);
    expect(r.events).toHaveLength(2);
    await fetch(`${edge.url}/v1/sessions/${s.id}/events`);
    await waitFor(async () => (await count('2xx')) === ok0 + 1, 5_000, 'the finished stream to be counted');
    expect(await count('4xx')).toBe(bad0 + 1);
  });
});

describe('a draining edge on the event stream path', () => {
  it('refuses new streams with 503 draining and the usual headers, and ends the open ones cleanly', async () => {
    const edge = await startEdge(sys.cfg);
    try {
      const s = await session();
      await s.append(1, 2);
      const open = readSse(edge.url, s.path, { timeoutMs: 10_000 });
      await waitFor(() => edge.hub.sessionCount === 1, 5_000, 'the stream to register');
      edge.state.draining = true;
      const refused = await fetch(edge.url + s.path, { headers: { 'x-request-id': 'sse-drain-1' } });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.headers.get('x-request-id')).toBe('sse-drain-1');
      expectSecurityHeaders(refused.headers, 'no-store');
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('draining');
      await edge.drain(200);
      const r = await open;
      expect(r.status).toBe(200);
      expect(r.events.map((e) => e.id)).toEqual(['1', '2']);
    } finally {
      await edge.close();
    }
  });
});
