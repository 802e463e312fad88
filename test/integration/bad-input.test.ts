import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

let sys: TestSystem;
beforeAll(async () => {
  sys = await startSystem({ edges: 1, env: { MAX_CONNECTIONS: '4', MAX_MESSAGES: '3', MAX_MESSAGE_CHARS: '50', UPSTREAM_MAX_ATTEMPTS: '3', UPSTREAM_RETRY_BASE_MS: '5' } });
});
afterAll(() => sys?.close());

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

  it('an upstream 503 before the first token is retried UPSTREAM_MAX_ATTEMPTS times, then ends with error', async () => {
    const stats = async () => ((await (await fetch(`${sys.mockUrl}/v1/mock/stats`)).json()) as { requests: number }).requests;
    const before = await stats();
    const s = await sys.create({ messages: [{ role: 'user', content: 'x' }], mock: { fault: 'status:503' } });
    const r = await readSse(edge(), s.eventsUrl);
    expect(r.events.at(-1)!.event).toBe('error');
    expect(JSON.parse(r.events.at(-1)!.data)).toMatchObject({ code: 'upstream_http', retryable: true });
    expect(JSON.parse(r.events.at(-1)!.data).message).toContain('503');
    expect((await stats()) - before).toBe(3);
  });
});
