import { request } from 'node:http';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { newSessionId } from '@relaycast/protocol';
import { storeFor } from '@relaycast/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEdge } from '../../services/edge/src/index.js';
import { mintToken } from '../helpers/auth.js';
import { startNginx, type TestNginx } from '../helpers/nginx.js';
import { readSse, type ReceivedEvent } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * deploy/nginx.conf, run by the real nginx binary (only ports, upstreams and paths rewritten), in front of
 * two real edges on real sockets.
 */

// Production: nginx waits 60 s for a byte from an edge, edges send a heartbeat every 15 s. Scaled down
// here so the suite stays fast; the test is about the ratio (heartbeat well inside the read timeout).
const READ_TIMEOUT_S = 3;
const HEARTBEAT_MS = 1_000;

const silent = pino({ level: 'silent' });
let sys: TestSystem;
let lb: TestNginx;

beforeAll(async () => {
  sys = await startSystem({
    edges: 2,
    // Idle sessions below wait minutes for their first token; the upstream timeouts must not end them first.
    env: { HEARTBEAT_MS: String(HEARTBEAT_MS), UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '120000', UPSTREAM_IDLE_TIMEOUT_MS: '120000' },
  });
  lb = await startNginx({ upstreams: sys.edges.map((e) => `127.0.0.1:${e.port}`), eventsReadTimeoutS: READ_TIMEOUT_S });
});
afterAll(async () => {
  await lb?.stop();
  await sys?.close();
});

const ask = (extra: Record<string, unknown> = {}) => ({ messages: [{ role: 'user', content: 'through the proxy' }], seed: 3, ...extra });
const ids = (events: ReceivedEvent[]) => events.map((e) => Number(e.id));
const isTerminal = (e: ReceivedEvent) => e.event === 'done' || e.event === 'error' || e.event === 'cancelled';

async function createVia(base: string, body: Record<string, unknown>) {
  const res = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...sys.auth }, body: JSON.stringify(body) });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; eventsUrl: string; cancelUrl: string; token: string };
}

/** Response headers of a GET, without reading the body. */
function headersOf(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      req.destroy();
    });
    req.setTimeout(5_000, () => req.destroy(new Error('no response headers within 5 s')));
    req.on('error', reject);
    req.end();
  });
}

function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

describe('nginx in front of the edges (deploy/nginx.conf, real binary)', () => {
  it('passes each event on as the edge writes it: lock-step, the next event is appended only once the client behind nginx has the last', async () => {
    // No clock in the assertion: the test itself is the producer. A buffering proxy (proxy_buffering, gzip,
    // a 4-8 KiB buffer) would hold event k back until more bytes arrived, and the wait for k would time out.
    const redis = new Redis(sys.redis.url);
    const store = storeFor(sys.cfg, redis);
    try {
      const id = newSessionId();
      await store.create(id, { model: 'mock', createdAt: Date.now(), tenant: 'test' });
      const { attempt } = await store.begin(id);
      const seen: ReceivedEvent[] = [];
      const proxied = readSse(lb.url, `/v1/sessions/${id}/events?token=${mintToken(id)}`, { onEvent: (e) => seen.push(e), timeoutMs: 60_000 });
      const n = 20;
      for (let k = 1; k <= n; k++) {
        // Small events, far below any proxy buffer size.
        await store.append(id, attempt, k, [k < n ? { type: 'delta', text: `t${k}` } : { type: 'done', finishReason: 'stop' }]);
        await waitFor(() => seen.length === k, `event ${k} to pass nginx before event ${k + 1} exists`, 5_000);
      }
      const r = await proxied;
      expect(r.status).toBe(200);
      expect(r.ended).toBe(true);
      expect(ids(r.events)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect(r.events.at(-1)!.event).toBe('done');
    } finally {
      redis.disconnect();
    }
  });

  it('a generated stream through nginx is identical to the same stream read directly from each edge', async () => {
    const s = await createVia(lb.url, ask({ max_tokens: 20, mock: { intervalMs: 20 } }));
    const [direct0, direct1, proxied] = await Promise.all([readSse(sys.edges[0]!.url, s.eventsUrl), readSse(sys.edges[1]!.url, s.eventsUrl), readSse(lb.url, s.eventsUrl)]);
    expect(proxied.status).toBe(200);
    expect(proxied.ended).toBe(true);
    expect(proxied.events).toEqual(direct0.events);
    expect(proxied.events).toEqual(direct1.events);
    expect(proxied.events.at(-1)!.event).toBe('done');
  });

  it('never compresses text/event-stream and keeps the SSE headers, even when the client accepts gzip', async () => {
    const s = await createVia(lb.url, ask({ max_tokens: 2 }));
    const r = await headersOf(lb.url + s.eventsUrl, { accept: 'text/event-stream', 'accept-encoding': 'gzip, deflate, br' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(r.headers['content-encoding']).toBeUndefined();
    expect(r.headers['cache-control']).toBe('no-cache, no-transform');
  });

  it('reuses HTTP/1.1 keep-alive connections to the edges', async () => {
    let accepted = 0;
    let served = 0;
    const onConnection = () => accepted++;
    const onRequest = () => served++;
    for (const e of sys.edges) {
      e.server.on('connection', onConnection);
      e.server.on('request', onRequest);
    }
    try {
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`${lb.url}/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA`, { headers: sys.auth });
        expect(res.status).toBe(404);
        await res.body?.cancel();
      }
    } finally {
      for (const e of sys.edges) {
        e.server.off('connection', onConnection);
        e.server.off('request', onRequest);
      }
    }
    expect(served).toBe(20);
    // At most one new connection per edge; without keep-alive it would be one per request.
    expect(accepted).toBeLessThanOrEqual(sys.edges.length);
  });

  it('gives every request an id that the response, the access log and the edge share', async () => {
    const res = await fetch(`${lb.url}/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA`, { headers: sys.auth });
    await res.body?.cancel();
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    await waitFor(() => lb.accessLog().some((l) => l.request_id === id), 'the access log line');
    const line = lb.accessLog().find((l) => l.request_id === id)!;
    expect(line.status).toBe(404);
    const given = await fetch(`${lb.url}/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA`, { headers: { 'x-request-id': 'client-chosen-1' } });
    await given.body?.cancel();
    expect(given.headers.get('x-request-id')).toBe('client-chosen-1');
  });

  it(`keeps an idle stream open past nginx's read timeout thanks to heartbeats (scaled: ${READ_TIMEOUT_S} s timeout, ${HEARTBEAT_MS} ms heartbeat; production 60 s and 15 s — the ratio is what is tested)`, async () => {
    // Control: the same config in front of an edge whose heartbeat is longer than the timeout.
    const quiet = await startEdge({ ...sys.cfg, HEARTBEAT_MS: 60_000 }, silent);
    const lbQuiet = await startNginx({ upstreams: [`127.0.0.1:${quiet.port}`], eventsReadTimeoutS: READ_TIMEOUT_S });
    try {
      // The mock waits ten minutes before its first token: nothing but heartbeats flows.
      const s = await createVia(lb.url, ask({ max_tokens: 3, mock: { firstTokenMs: 600_000 } }));
      const opened = performance.now();
      let heartbeats = 0;
      const countHeartbeats = (chunk: string) => {
        heartbeats += chunk.split(/(?:^|\n):\n\n/).length - 1;
      };
      const survivor = readSse(lb.url, s.eventsUrl, { onChunk: countHeartbeats, timeoutMs: 30_000 });
      const control = await readSse(lbQuiet.url, s.eventsUrl, { timeoutMs: 30_000 });
      const controlLived = performance.now() - opened;

      // nginx cut the silent stream at its read timeout, before any event: the timeout is real.
      expect(control.status).toBe(200);
      expect(control.events).toEqual([]);
      expect(control.ended).toBe(false);
      expect(controlLived).toBeGreaterThan(READ_TIMEOUT_S * 1000 - 200);
      expect(lbQuiet.errors()).toMatch(/upstream timed out/);

      // The heartbeating stream is still open a full timeout later (twice the timeout in all)...
      await waitFor(() => performance.now() - opened > 2 * READ_TIMEOUT_S * 1000 + HEARTBEAT_MS, 'twice the read timeout', 20_000);
      const cancel = await fetch(lb.url + s.cancelUrl, { method: 'POST', headers: sys.auth });
      expect(cancel.status).toBe(202);
      // ...and still delivers: the cancel arrives on the same connection, which the edge then ends cleanly.
      const r = await survivor;
      expect(r.ended).toBe(true);
      expect(r.events.map((e) => e.event)).toEqual(['cancelled']);
      expect(heartbeats).toBeGreaterThanOrEqual(2 * READ_TIMEOUT_S);
    } finally {
      await lbQuiet.stop();
      await quiet.close();
    }
  });

  it('keeps subscribe tokens out of the access log (it logs the path without the query)', async () => {
    const s = await createVia(lb.url, ask({ max_tokens: 3 }));
    const r = await readSse(lb.url, s.eventsUrl);
    expect(r.events.at(-1)!.event).toBe('done');
    const path = `/v1/sessions/${s.id}/events`;
    await waitFor(() => lb.accessLog().some((l) => l.path === path), 'the stream in the access log');
    const log = JSON.stringify(lb.accessLog());
    expect(log).not.toContain(s.token);
    expect(log).not.toContain(s.token.split('.')[2]!);
    expect(log).not.toContain(sys.apiKey);
  });

  it("passes the address it saw as X-Forwarded-For, replacing the client's: behind it, a forged one changes nothing", async () => {
    const edge = await startEdge({ ...sys.cfg, PORT: 0, TRUST_PROXY: 'loopback', trustProxy: ['loopback'], MAX_CONNECTIONS_PER_IP: 1 }, silent);
    const lbOne = await startNginx({ upstreams: [`127.0.0.1:${edge.port}`] });
    try {
      const s = await createVia(lbOne.url, ask({ mock: { firstTokenMs: 600_000 } }));
      const held = new AbortController();
      const first = await fetch(lbOne.url + s.eventsUrl, { headers: { 'x-forwarded-for': '192.0.2.1' }, signal: held.signal });
      expect(first.status).toBe(200);
      try {
        const second = await fetch(lbOne.url + s.eventsUrl, { headers: { 'x-forwarded-for': '192.0.2.2' } });
        expect(second.status).toBe(429);
        expect(((await second.json()) as { error: { message: string } }).error.message).toBe('too many event streams from this address');
      } finally {
        held.abort();
        await fetch(lbOne.url + s.cancelUrl, { method: 'POST', headers: sys.auth });
      }
    } finally {
      await lbOne.stop();
      await edge.close();
    }
  });

  it('when an edge dies, its clients resume through nginx on the other edge with Last-Event-ID and lose nothing', async () => {
    const s = await createVia(lb.url, ask({ max_tokens: 120, mock: { intervalMs: 25 } }));
    const clients = 6;
    const received: ReceivedEvent[][] = Array.from({ length: clients }, () => []);
    const legs: { status: number; ended: boolean }[][] = Array.from({ length: clients }, () => []);

    const follow = async (i: number) => {
      for (let leg = 0; leg < 5; leg++) {
        const last = received[i]!.at(-1)?.id;
        const r = await readSse(lb.url, s.eventsUrl, { ...(last ? { lastEventId: last } : {}), onEvent: (e) => received[i]!.push(e), timeoutMs: 20_000 });
        legs[i]!.push({ status: r.status, ended: r.ended });
        if (received[i]!.some(isTerminal)) return;
      }
    };
    const done = Promise.all(received.map((_, i) => follow(i)));

    await waitFor(() => received.every((r) => r.length >= 3), 'every client to have events');
    const victim = sys.edges[0]!;
    const cut = victim.stats.openConnections;
    // A crash, as the network sees it: the listener goes away and every socket is dropped mid-stream.
    victim.server.close();
    victim.server.closeAllConnections();
    await done;

    const reference = await readSse(sys.edges[1]!.url, s.eventsUrl);
    expect(reference.events.at(-1)!.event).toBe('done');
    expect(cut).toBeGreaterThan(0);
    const resumed = legs.filter((l) => l.length > 1).length;
    expect(resumed).toBe(cut);
    for (let i = 0; i < clients; i++) {
      expect(legs[i]!.every((l) => l.status === 200), `client ${i} legs ${JSON.stringify(legs[i])}`).toBe(true);
      expect(ids(received[i]!)).toEqual(received[i]!.map((_, k) => k + 1));
      expect(received[i]).toEqual(reference.events);
    }
  });
});
