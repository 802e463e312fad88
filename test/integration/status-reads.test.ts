import { request } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedSession } from '../helpers/auth.js';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * Issue 17 item 4: `GET /v1/sessions/:id` was unbounded. Two edges (real HTTP, one real Redis) must share
 * one read rate per token and per client address; a finished session answers If-None-Match with 304; the
 * answer is compressed when the client accepts it. Each case reads from its own loopback address, so the
 * per-address limit of one case never meets another's.
 */
let sys: TestSystem;
let finished: CreatedSession;
beforeAll(async () => {
  // Per token 12 a minute: bursts of 2. Per address 60 a minute: bursts of 10.
  sys = await startSystem({ edges: 2, env: { STATUS_READS_PER_MINUTE_PER_TOKEN: '12', STATUS_READS_PER_MINUTE_PER_IP: '60' } });
  finished = await sys.create({ messages: [{ role: 'user', content: 'status reads' }], max_tokens: 300 });
  await readSse(sys.edges[0]!.url, finished.eventsUrl, { timeoutMs: 20_000 });
});
afterAll(async () => {
  await sys?.close();
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A GET from a chosen loopback address, body as raw bytes (node's client does not decompress). */
function get(edge: number, path: string, from: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, sys.edges[edge]!.url), { headers, localAddress: from, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const token = (s: CreatedSession) => ({ authorization: `Bearer ${s.token}` });
const codeOf = (r: Reply) => (JSON.parse(r.body.toString()) as { error: { code: string } }).error.code;

describe('status reads are bounded', () => {
  it('per token, over both edges: a burst of 2, then 429 with Retry-After; another token from the same address still reads', async () => {
    const s = await sys.create({ messages: [{ role: 'user', content: 'x' }], max_tokens: 2 });
    const other = await sys.create({ messages: [{ role: 'user', content: 'y' }], max_tokens: 2 });
    expect((await get(0, s.statusUrl, '127.0.0.21', token(s))).status).toBe(200);
    expect((await get(1, s.statusUrl, '127.0.0.21', token(s))).status).toBe(200);
    const refused = await get(0, s.statusUrl, '127.0.0.21', token(s));
    expect(refused.status).toBe(429);
    expect(codeOf(refused)).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // The same token from another address: the limit follows the token, not the address.
    expect((await get(1, s.statusUrl, '127.0.0.22', token(s))).status).toBe(429);
    expect((await get(1, other.statusUrl, '127.0.0.21', token(other))).status).toBe(200);
  });

  it('per client address, over both edges, whatever the credential: a burst of 10, then 429', async () => {
    for (let i = 0; i < 10; i++) expect((await get(i % 2, finished.statusUrl, '127.0.0.23', sys.auth)).status, `read ${i + 1}`).toBe(200);
    const refused = await get(0, finished.statusUrl, '127.0.0.23', sys.auth);
    expect(refused.status).toBe(429);
    expect(codeOf(refused)).toBe('rate_limited');
    expect((await get(0, finished.statusUrl, '127.0.0.24', sys.auth)).status).toBe(200);
  });

  it('a finished session carries a weak ETag; If-None-Match answers 304 without a body, on either edge', async () => {
    const first = await get(0, finished.statusUrl, '127.0.0.25', sys.auth);
    expect(first.status).toBe(200);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^W\/".+"$/);
    expect(first.headers['cache-control']).toBe('private, no-cache');
    for (const edge of [0, 1]) {
      const again = await get(edge, finished.statusUrl, '127.0.0.25', { ...sys.auth, 'if-none-match': etag });
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
      expect(again.headers.etag).toBe(etag);
    }
    const changed = await get(1, finished.statusUrl, '127.0.0.25', { ...sys.auth, 'if-none-match': 'W/"0.0"' });
    expect(changed.status).toBe(200);
    expect(JSON.parse(changed.body.toString())).toEqual(JSON.parse(first.body.toString()));
  });

  it('a running session has no ETag and is never 304', async () => {
    const s = await sys.create({ messages: [{ role: 'user', content: 'z' }], mock: { firstTokenMs: 600_000 } });
    const r = await get(0, s.statusUrl, '127.0.0.26', { ...sys.auth, 'if-none-match': '*' });
    expect(r.status).toBe(200);
    expect(r.headers.etag).toBeUndefined();
    expect(r.headers['cache-control']).toBe('no-store');
    await fetch(sys.edges[0]!.url + s.cancelUrl, { method: 'POST', headers: sys.auth });
  });

  it('compressed as br or gzip when accepted, identical once decoded; identity otherwise', async () => {
    const plain = await get(0, finished.statusUrl, '127.0.0.27', sys.auth);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.length).toBeGreaterThan(1_024);
    expect(plain.headers.vary).toMatch(/Accept-Encoding/i);
    const text = plain.body.toString();
    const cases: [string, string | undefined, (b: Buffer) => Buffer][] = [
      ['gzip, deflate, br', 'br', brotliDecompressSync],
      ['gzip', 'gzip', gunzipSync],
      ['br;q=0.5, gzip;q=0.8', 'gzip', gunzipSync],
      ['*', 'br', brotliDecompressSync],
      ['gzip;q=0, br;q=0', undefined, (b) => b],
      ['identity', undefined, (b) => b],
    ];
    for (const [accept, want, decode] of cases) {
      const r = await get(1, finished.statusUrl, '127.0.0.27', { ...sys.auth, 'accept-encoding': accept });
      expect(r.status, accept).toBe(200);
      expect(r.headers['content-encoding'], accept).toBe(want);
      expect(Number(r.headers['content-length']), accept).toBe(r.body.length);
      expect(decode(r.body).toString(), accept).toBe(text);
      if (want) expect(r.body.length, accept).toBeLessThan(plain.body.length / 2);
    }
  });
});
