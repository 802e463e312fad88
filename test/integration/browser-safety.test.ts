import { connect } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_CSP, pageSecurityHeaders, securityHeaders } from '../../services/edge/src/security-headers.js';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/** Security headers on every response, and CORS for an allowlist of origins (none by default). */

const ALLOWED = 'https://app.example.com';
const OTHER = 'https://evil.example.net';
let sys: TestSystem;
let closed: TestSystem;
beforeAll(async () => {
  sys = await startSystem({ env: { CORS_ORIGINS: `${ALLOWED}, https://admin.example.com` } });
  closed = await startSystem({ redis: sys.redis });
});
afterAll(async () => {
  await closed?.close();
  await sys?.close();
});

const base = () => sys.edges[0]!.url;
const ask = { messages: [{ role: 'user', content: 'headers' }], max_tokens: 2 };

function expectSecurityHeaders(h: { get(name: string): string | null }, what: string): void {
  expect(h.get('x-content-type-options'), what).toBe('nosniff');
  expect(h.get('x-frame-options'), what).toBe('DENY');
  expect(h.get('referrer-policy'), what).toBe('no-referrer');
  const csp = h.get('content-security-policy') ?? '';
  expect(csp, what).toContain("default-src 'none'");
  expect(csp, what).toContain("frame-ancestors 'none'");
}

describe('security headers on every response', () => {
  it('JSON answers of every kind: 200, 201, 400, 401, 404, 405, and the stream itself', async () => {
    const created = await fetch(`${base()}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...sys.auth }, body: JSON.stringify(ask) });
    expect(created.status).toBe(201);
    expectSecurityHeaders(created.headers, '201');
    // Tokens are in this body: nothing may cache it.
    expect(created.headers.get('cache-control')).toBe('no-store');
    const s = (await created.json()) as { eventsUrl: string; statusUrl: string };
    const cases: [string, Promise<Response>, number][] = [
      ['healthz', fetch(`${base()}/healthz`), 200],
      ['status', fetch(base() + s.statusUrl, { headers: sys.auth }), 200],
      ['bad json', fetch(`${base()}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...sys.auth }, body: '{' }), 400],
      ['no key', fetch(`${base()}/v1/sessions`, { method: 'POST' }), 401],
      ['no route', fetch(`${base()}/nowhere`), 404],
      ['wrong method', fetch(`${base()}/v1/sessions`), 405],
      ['metrics', fetch(`${base()}/metrics`), 200],
    ];
    for (const [what, p, status] of cases) {
      const res = await p;
      expect(res.status, what).toBe(status);
      expectSecurityHeaders(res.headers, what);
      await res.body?.cancel();
    }
    const stream = await readSse(base(), s.eventsUrl);
    expect(stream.status).toBe(200);
    expectSecurityHeaders(new Headers(stream.headers as Record<string, string>), 'event stream');
    // The stream keeps its own caching rule (SSE), the rest of the set stays.
    expect(stream.headers['cache-control']).toBe('no-cache, no-transform');
  });

  it("even requests node's HTTP parser rejects before any route runs", async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const c = connect(sys.edges[0]!.port, '127.0.0.1', () => c.write('GET / HTTP/1.1\r\nHost: x\r\nBad: a\u0000b\r\n\r\n'));
      let out = '';
      c.on('data', (d) => (out += d.toString('latin1')));
      c.on('end', () => resolve(out));
      c.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    const head = reply.slice(0, reply.indexOf('\r\n\r\n'));
    expect(head).toMatch(/^X-Content-Type-Options: nosniff$/m);
    expect(head).toMatch(/^X-Frame-Options: DENY$/m);
    expect(head).toMatch(/^Content-Security-Policy: .*frame-ancestors 'none'/m);
  });

  it('the demo page policy: own origin only, no inline script or eval, never framed, no <base>, no plugins', async () => {
    const directives = new Map(PAGE_CSP.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
    expect(directives.get('default-src')).toEqual(["'self'"]);
    expect(directives.get('script-src')).toEqual(["'self'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives.get('base-uri')).toEqual(["'none'"]);
    expect(directives.get('object-src')).toEqual(["'none'"]);
    expect(PAGE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    // A page route gets it in place of the API policy, keeping the other headers.
    const app = express();
    app.use(securityHeaders);
    app.get('/', (_req, res) => {
      pageSecurityHeaders(res);
      res.type('html').send('<!doctype html><title>page</title>');
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
      expect(res.headers.get('content-security-policy')).toBe(PAGE_CSP);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('CORS', () => {
  const preflight = (url: string, origin: string, method = 'POST', headers = 'authorization, content-type') =>
    fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers } });

  it('a preflight from an allowed origin is answered 204 with the methods and headers the API uses', async () => {
    for (const path of ['/v1/sessions', '/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA/events', '/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA/token']) {
      const res = await preflight(base() + path, ALLOWED);
      expect(res.status, path).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
      expect(res.headers.get('access-control-allow-methods')).toMatch(/POST/);
      expect(res.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
      expect(res.headers.get('access-control-allow-headers')).toMatch(/Last-Event-ID/);
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expect(res.headers.get('vary')).toMatch(/Origin/);
    }
    expect((await preflight(`${base()}/v1/sessions`, 'https://admin.example.com')).headers.get('access-control-allow-origin')).toBe('https://admin.example.com');
  });

  it('a preflight from any other origin (or a look-alike) is refused with 403 and no CORS headers', async () => {
    for (const origin of [OTHER, 'http://app.example.com', 'https://app.example.com.evil.net', 'https://app.example.com:8443', 'null']) {
      const res = await preflight(`${base()}/v1/sessions`, origin);
      expect(res.status, origin).toBe(403);
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(res.headers.get('access-control-allow-methods'), origin).toBeNull();
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('cors_forbidden');
    }
  });

  it('actual requests: the allowed origin gets its origin echoed (never *) with the readable headers; others get none', async () => {
    const create = (origin: string) => fetch(`${base()}/v1/sessions`, { method: 'POST', headers: { origin, 'content-type': 'application/json', ...sys.auth }, body: JSON.stringify(ask) });
    const ok = await create(ALLOWED);
    expect(ok.status).toBe(201);
    expect(ok.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(ok.headers.get('access-control-expose-headers')).toMatch(/Retry-After/);
    const s = (await ok.json()) as { eventsUrl: string };
    // EventSource from the page: a cross-origin GET with the token in the URL.
    const es = await fetch(base() + s.eventsUrl, { headers: { origin: ALLOWED, accept: 'text/event-stream' } });
    expect(es.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    await es.text();
    // Errors must be readable by the allowed page too.
    const refused = await fetch(`${base()}/v1/sessions`, { method: 'POST', headers: { origin: ALLOWED } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(ALLOWED);

    const other = await create(OTHER);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.headers.get('vary')).toMatch(/Origin/);
    await other.body?.cancel();
  });

  it('with no CORS_ORIGINS (the default) no origin is allowed', async () => {
    const res = await preflight(`${closed.edges[0]!.url}/v1/sessions`, ALLOWED);
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const get = await fetch(`${closed.edges[0]!.url}/healthz`, { headers: { origin: ALLOWED } });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });
});
