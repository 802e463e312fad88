import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../helpers/auth.js';
import type { CreatedSession } from '../helpers/auth.js';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * Issue 17 item 3: a HEAD answer carries the headers only (RFC 9110 §9.3.2). The event stream used to write
 * its frames straight to the socket after a HEAD's headers, which a Node client cannot parse.
 */
let sys: TestSystem;
let live: CreatedSession;
let done: CreatedSession;
beforeAll(async () => {
  sys = await startSystem({ edges: 1 });
  live = await sys.create({ messages: [{ role: 'user', content: 'head' }], mock: { firstTokenMs: 600_000 } });
  done = await sys.create({ messages: [{ role: 'user', content: 'head' }], max_tokens: 2 });
  await readSse(sys.edges[0]!.url, done.eventsUrl, { timeoutMs: 20_000 });
});
afterAll(async () => {
  if (live) await fetch(sys.edges[0]!.url + live.cancelUrl, { method: 'POST', headers: sys.auth });
  await sys?.close();
});

/** HEAD through node's own client; a response it cannot parse rejects. */
function nodeHead(path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, sys.edges[0]!.url), { method: 'HEAD', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * HEAD, then a pipelined GET /healthz on the same connection, as raw bytes. The bytes after the HEAD's
 * header block must be nothing (the HEAD closed the connection) or exactly the next response.
 */
function rawHeadThenHealthz(path: string, headers: Record<string, string>): Promise<{ head: string; after: string }> {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return new Promise((resolve, reject) => {
    const s = connect(sys.edges[0]!.port, '127.0.0.1', () => s.write(`HEAD ${path} HTTP/1.1\r\nHost: t\r\n${lines}\r\nGET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`));
    let out = '';
    // The server closes after the healthz answer (or after the HEAD); a stream that keeps writing never does.
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`connection still open after 5 s; received: ${JSON.stringify(out.slice(0, 400))}`));
    }, 5_000);
    s.on('data', (c) => (out += c.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      const end = out.indexOf('\r\n\r\n');
      resolve({ head: out.slice(0, end + 4), after: out.slice(end + 4) });
    });
    s.on('error', reject);
  });
}

describe('HEAD sends headers only, on every route', () => {
  const token = (s: CreatedSession) => ({ authorization: `Bearer ${s.token}` });
  const cases: [string, () => string, () => Record<string, string>, number][] = [
    ['live event stream', () => live.eventsUrl, () => ({}), 200],
    ['live event stream (bearer token)', () => `/v1/sessions/${live.id}/events`, () => token(live), 200],
    ['finished event stream, cursor at its end', () => `${done.eventsUrl}&lastEventId=999`, () => ({}), 204],
    ['event stream without a token', () => `/v1/sessions/${live.id}/events`, () => ({}), 401],
    ['event stream of an unknown session', () => `/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA/events?token=${mintToken('AAAAAAAAAAAAAAAAAAAAAA')}`, () => ({}), 404],
    ['event stream with a malformed cursor', () => `${live.eventsUrl}&lastEventId=x`, () => ({}), 400],
    ['status', () => live.statusUrl, () => token(live), 200],
    ['finished status', () => done.statusUrl, () => token(done), 200],
    ['models', () => '/v1/models', () => sys.auth, 200],
    ['create (POST only)', () => '/v1/sessions', () => sys.auth, 405],
    ['cancel (POST only)', () => live.cancelUrl, () => sys.auth, 405],
    ['healthz', () => '/healthz', () => ({}), 200],
    ['readyz', () => '/readyz', () => ({}), 200],
    ['metrics', () => '/metrics', () => ({}), 200],
    ['unknown route', () => '/nope', () => ({}), 404],
  ];

  for (const [name, path, headers, status] of cases) {
    it(`${name}: ${status}, no body bytes, and node's client parses it`, async () => {
      const viaNode = await nodeHead(path(), headers());
      expect(viaNode.status).toBe(status);
      const { head, after } = await rawHeadThenHealthz(path(), headers());
      expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      if (after !== '') expect(after).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n\{"ok":true\}$/);
      else expect(head.toLowerCase()).toContain('connection: close');
    });
  }

  it('the web page: the status GET answers, no body bytes', async () => {
    const get = await fetch(`${sys.edges[0]!.url}/`);
    await get.body?.cancel();
    expect((await nodeHead('/', {})).status).toBe(get.status);
    const { head, after } = await rawHeadThenHealthz('/', {});
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${get.status} `));
    expect(after).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n\{"ok":true\}$/);
  });

  it('a live event stream answers HEAD with the headers GET would send', async () => {
    const r = await nodeHead(live.eventsUrl, {});
    expect(r.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-cache, no-transform');
  });
});
