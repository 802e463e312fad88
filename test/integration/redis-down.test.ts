import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../helpers/auth.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { startSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

// While Redis is unreachable the edge's commands wait in ioredis's queue (so a short restart loses nothing);
// a caller must still get an answer, within REQUEST_TIMEOUT_MS, not hang.
const TIMEOUT_MS = 600;

let redis: TestRedis;
let sys: TestSystem;
beforeAll(async () => {
  redis = await startRedis({ appendOnly: true });
  sys = await startSystem({ redis, env: { REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) } });
});
afterAll(async () => {
  await sys?.close();
  await redis?.close();
});

describe('Redis unreachable: every API request still gets an answer', () => {
  it('503 timeout within REQUEST_TIMEOUT_MS for create, status, events and cancel; all work again once Redis is back', async () => {
    const base = sys.edges[0]!.url;
    const s = await sys.create({ messages: [{ role: 'user', content: 'before the outage' }], max_tokens: 3 });
    await redis.stop();
    try {
      const calls: [string, Promise<Response>][] = [
        ['create', fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...sys.auth }, body: JSON.stringify({ messages: [{ role: 'user', content: 'x' }] }) })],
        ['status', fetch(base + s.statusUrl, { headers: bearer(s.token) })],
        ['events', fetch(base + s.eventsUrl)],
        ['cancel', fetch(base + s.cancelUrl, { method: 'POST', headers: bearer(s.token) })],
      ];
      for (const [name, call] of calls) {
        const res = await call;
        expect(res.status, name).toBe(503);
        expect(res.headers.get('retry-after'), name).toBe('1');
        expect(((await res.json()) as { error: { code: string } }).error.code, name).toBe('timeout');
      }
      // The process is unharmed meanwhile.
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
    } finally {
      await redis.restart();
    }
    // Back in service once it reports ready again (what a load balancer waits for).
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 15_000, 'the edge to be ready again');
    const after = await sys.create({ messages: [{ role: 'user', content: 'after the outage' }], max_tokens: 3 });
    const st = await fetch(base + after.statusUrl, { headers: bearer(after.token) });
    expect(st.status).toBe(200);
  });
});
