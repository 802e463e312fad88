import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSessionId } from '@relaycast/protocol';
import { createRedis, keySpace, type KeySpace, type RedisClient } from '@relaycast/store';
import { clientSubject } from '../../services/edge/src/connection-limits.js';
import { createSession, makeKey, type CreatedSession } from '../helpers/auth.js';
import { startProcCluster, type ProcCluster } from '../helpers/procs.js';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * The limits every edge shares through Redis: sessions per key per minute, running sessions per key, SSE
 * connections per client address and per session. Two edges (in-process, real HTTP, one real Redis) must
 * enforce one limit between them; a SIGKILLed edge (an OS process) must not hold its connections forever.
 */

interface Stream {
  status: number;
  body: string;
  retryAfter: string | undefined;
  close(): void;
}

/** Opens an event stream and keeps it open (status 200), or reads the refusal. */
function open(base: string, path: string, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const retryAfter = res.headers['retry-after'] as string | undefined;
      res.on('error', () => undefined);
      if (res.statusCode === 200) return resolve({ status: 200, body: '', retryAfter, close: () => req.destroy() });
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, retryAfter, close: () => undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const ask = (extra: Record<string, unknown> = {}) => ({ messages: [{ role: 'user', content: 'limits' }], ...extra });
const endlessBody = ask({ mock: { firstTokenMs: 600_000 } });
const codeOf = (body: string) => (JSON.parse(body) as { error: { code: string; message: string } }).error;

describe('limits shared by two edges', () => {
  const rate = makeKey('rate-1', 'test', { sessionsPerMinute: 3 });
  const running = makeKey('running-1', 'test', { maxRunning: 2 });
  const one = makeKey('one-1', 'test', { maxRunning: 1 });
  // Its own key: each edge reconciles a key's slots at most every few seconds, so no earlier refusal may interfere.
  const heal = makeKey('heal-1', 'test', { maxRunning: 1 });
  let sys: TestSystem;
  let redis: RedisClient;
  let keys: KeySpace;
  const edge = (i: number) => sys.edges[i]!.url;
  const post = (i: number, key: string, body: unknown) => fetch(`${edge(i)}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
  const cancel = (s: CreatedSession) => fetch(edge(0) + s.cancelUrl, { method: 'POST', headers: sys.auth });
  const statusOf = async (s: CreatedSession) => ((await (await fetch(edge(0) + s.statusUrl, { headers: sys.auth })).json()) as { status: string }).status;
  const isRunning = async (keyId: string, id: string) => (await redis.zscore(keys.limits.running(keyId), id)) !== null;
  const counted = async (key: string) => Object.entries(await redis.hgetall(key)).reduce((n, [f, v]) => (f.startsWith('c:') ? n + Number(v) : n), 0);

  beforeAll(async () => {
    // One generation at a time, so a session can be held in the queue behind another; one attempt per
    // job, so a failing one fails for good at once.
    sys = await startSystem({ edges: 2, keys: [rate, running, one, heal], env: { MAX_CONNECTIONS_PER_SESSION: '2', MAX_CONNECTIONS_PER_IP: '3', INGEST_CONCURRENCY: '1', JOB_ATTEMPTS: '1', EDGE_LEASE_MS: '1500' } });
    redis = createRedis(sys.cfg.redis, 'test-limits');
    keys = keySpace(sys.cfg.REDIS_KEY_PREFIX);
  });
  afterAll(async () => {
    redis?.disconnect();
    await sys?.close();
  });

  it('sessions per key per minute: the fourth of three, across both edges, is 429 with Retry-After; other keys are unaffected', async () => {
    for (const i of [0, 1, 0]) expect((await post(i, rate.key, ask({ max_tokens: 1 }))).status).toBe(201);
    for (const i of [1, 0]) {
      const res = await post(i, rate.key, ask({ max_tokens: 1 }));
      expect(res.status).toBe(429);
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('rate_limited');
    }
    expect((await post(1, sys.apiKey, ask({ max_tokens: 1 }))).status).toBe(201);
    expect(sys.edges[0]!.stats.limited.rate + sys.edges[1]!.stats.limited.rate).toBe(2);
  });

  it('running sessions per key: a third while two run is 429 on either edge; it is admitted once one ends', async () => {
    const a = await createSession(edge(0), running.key, endlessBody);
    const b = await createSession(edge(1), running.key, endlessBody);
    try {
      for (const i of [0, 1]) {
        const res = await post(i, running.key, endlessBody);
        expect(res.status).toBe(429);
        expect(res.headers.get('retry-after')).toBe('2');
        expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/running/);
      }
      expect((await cancel(a)).status).toBe(202);
      await waitFor(async () => !(await isRunning('running-1', a.id)), 'the cancelled session to free its slot');
      const c = await createSession(edge(1), running.key, endlessBody);
      await cancel(c);
    } finally {
      await cancel(a);
      await cancel(b);
    }
  });

  describe('a running slot is freed however the session ends', () => {
    // Cancelled after each case: keeps the single worker busy, so what `one` creates waits in the queue.
    let blocker: CreatedSession;
    beforeAll(async () => {
      await waitFor(async () => (await redis.zcard(keys.limits.running('test'))) === 0, 'earlier sessions to end');
    });
    const block = async () => {
      blocker = await sys.create(endlessBody);
      await waitFor(async () => (await statusOf(blocker)) === 'running', 'the blocker to run');
    };

    it('done and error: the worker frees it', async () => {
      for (const [body, end] of [[ask({ max_tokens: 2 }), 'done'], [ask({ mock: { fault: 'status:400' } }), 'error']] as const) {
        const s = await createSession(edge(0), one.key, body);
        expect(await isRunning('one-1', s.id)).toBe(true);
        expect((await readSse(edge(1), s.eventsUrl)).events.at(-1)!.event).toBe(end);
        await waitFor(async () => !(await isRunning('one-1', s.id)), `the ${end} session to free its slot`);
      }
    });

    it('cancelled while queued: the edge that ends it frees it (no worker ever sees it)', async () => {
      await block();
      try {
        const s = await createSession(edge(1), one.key, endlessBody);
        expect(await statusOf(s)).toBe('queued');
        expect((await post(0, one.key, endlessBody)).status).toBe(429);
        expect((await fetch(edge(1) + s.cancelUrl, { method: 'POST', headers: sys.auth })).status).toBe(202);
        expect(await statusOf(s)).toBe('cancelled');
        expect(await isRunning('one-1', s.id)).toBe(false);
      } finally {
        await cancel(blocker);
      }
    });

    it('cancelled while running: the worker frees it', async () => {
      const s = await createSession(edge(0), one.key, endlessBody);
      await waitFor(async () => (await statusOf(s)) === 'running', 'the session to run');
      await cancel(s);
      await waitFor(async () => !(await isRunning('one-1', s.id)), 'the cancelled session to free its slot');
    });

    it('a generation that fails for good (every attempt throws: its metadata is unreadable) frees it', async () => {
      await block();
      const s = await createSession(edge(0), one.key, endlessBody);
      // Replaced by a value of the wrong type: the worker's first command on it throws.
      const meta = keys.session(s.id).meta;
      await redis.del(meta);
      await redis.set(meta, 'not a hash');
      expect(await isRunning('one-1', s.id)).toBe(true);
      await cancel(blocker);
      await waitFor(async () => !(await isRunning('one-1', s.id)), 'the failed session to free its slot');
      await redis.del(meta);
    });
  });

  it('a lost release heals at the next refusal (ended or vanished sessions are freed); a lapsed lease stops counting', async () => {
    const slot = keys.limits.running('heal-1');
    const ended = await sys.create(ask({ max_tokens: 1 }));
    await readSse(edge(0), ended.eventsUrl);
    const far = Date.now() + 3_600_000;
    // Releases that never happened: an ended session (refused on edge 0), then one whose data is gone (edge 1).
    for (const [i, id] of [ended.id, newSessionId()].entries()) {
      await redis.zadd(slot, far, id);
      const s = await createSession(edge(i), heal.key, ask({ max_tokens: 1 }));
      await readSse(edge(i), s.eventsUrl);
      expect(await redis.zscore(slot, id)).toBeNull();
      await waitFor(async () => !(await isRunning('heal-1', s.id)), 'the new session to end');
    }
    // A session that is still running keeps its slot however often the limit refuses...
    const live = await sys.create(endlessBody);
    try {
      await redis.zadd(slot, far, live.id);
      for (const i of [0, 1]) expect((await post(i, heal.key, ask({ max_tokens: 1 }))).status).toBe(429);
      expect(await redis.zscore(slot, live.id)).not.toBeNull();
      // ...until its lease lapses (here: set in the past), which frees it without any release.
      await redis.zadd(slot, Date.now() - 1_000, live.id);
      const s = await post(0, heal.key, ask({ max_tokens: 1 }));
      expect(s.status).toBe(201);
    } finally {
      await cancel(live);
    }
  });

  it('SSE connections per session: the third over both edges is 429, another session is unaffected, a closed one frees its slot', async () => {
    const s = await sys.create(endlessBody);
    const t = await sys.create(endlessBody);
    const held: Stream[] = [];
    try {
      held.push(await open(edge(0), s.eventsUrl), await open(edge(1), s.eventsUrl));
      expect(held.map((h) => h.status)).toEqual([200, 200]);
      for (const i of [0, 1]) {
        const over = await open(edge(i), s.eventsUrl);
        expect(over.status).toBe(429);
        expect(over.retryAfter).toBe('5');
        expect(codeOf(over.body)).toEqual({ code: 'rate_limited', message: 'too many event streams open on this session' });
      }
      const onT = await open(edge(0), t.eventsUrl);
      expect(onT.status).toBe(200);
      held.push(onT);
      held.shift()!.close();
      await waitFor(async () => (await counted(keys.limits.sessionConnections(s.id))) === 1, 'the closed stream to free its slot');
      const again = await open(edge(1), s.eventsUrl);
      expect(again.status).toBe(200);
      held.push(again);
    } finally {
      for (const h of held) h.close();
      await cancel(s);
      await cancel(t);
    }
    await waitFor(async () => (await counted(keys.limits.ipConnections('127.0.0.1'))) === 0, 'every stream to be released');
  });

  it('SSE connections per address over both edges; a forged X-Forwarded-For changes nothing when no proxy is trusted', async () => {
    const sessions = await Promise.all([0, 1, 2, 3].map(() => sys.create(endlessBody)));
    const held: Stream[] = [];
    try {
      for (const [i, s] of sessions.slice(0, 3).entries()) {
        const h = await open(edge(i % 2), s.eventsUrl, { 'x-forwarded-for': `198.51.100.${i}` });
        expect(h.status).toBe(200);
        held.push(h);
      }
      const over = await open(edge(1), sessions[3]!.eventsUrl, { 'x-forwarded-for': '198.51.100.77' });
      expect(over.status).toBe(429);
      expect(codeOf(over.body).message).toBe('too many event streams from this address');
      expect(await counted(keys.limits.ipConnections('127.0.0.1'))).toBe(3);
      held.pop()!.close();
      await waitFor(async () => (await counted(keys.limits.ipConnections('127.0.0.1'))) === 2, 'the closed stream to free its slot');
      const again = await open(edge(1), sessions[3]!.eventsUrl);
      expect(again.status).toBe(200);
      held.push(again);
    } finally {
      for (const h of held) h.close();
      for (const s of sessions) await cancel(s);
    }
  });

  it('behind a trusted proxy (TRUST_PROXY), the forwarded address is what counts; IPv6 counts by /64', async () => {
    const proxied = await startSystem({ redis: sys.redis, env: { TRUST_PROXY: 'loopback', MAX_CONNECTIONS_PER_IP: '1' } });
    const held: Stream[] = [];
    try {
      const s = await proxied.create(endlessBody);
      const via = (xff: string) => open(proxied.edges[0]!.url, s.eventsUrl, { 'x-forwarded-for': xff });
      for (const [xff, expected] of [
        ['203.0.113.7', 200],
        ['203.0.113.7', 429],
        ['203.0.113.8', 200],
        ['2001:db8:1:2::1', 200],
        ['2001:db8:1:2:ffff::9', 429],
        ['2001:db8:1:3::1', 200],
      ] as const) {
        const h = await via(xff);
        expect(h.status, xff).toBe(expected);
        held.push(h);
      }
      await fetch(proxied.edges[0]!.url + s.cancelUrl, { method: 'POST', headers: proxied.auth });
    } finally {
      for (const h of held) h.close();
      await proxied.close();
    }
  });
});

describe('client addresses for the per-address limit', () => {
  it('unwraps IPv4-mapped IPv6 and groups IPv6 by /64', () => {
    expect(clientSubject('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientSubject('192.0.2.1')).toBe('192.0.2.1');
    expect(clientSubject('2001:db8:0:1:2:3:4:5')).toBe('2001:db8:0:1::/64');
    expect(clientSubject('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientSubject('2001:0db8:0000:0001::ffff')).toBe('2001:db8:0:1::/64');
    expect(clientSubject('::1')).toBe('0:0:0:0::/64');
    expect(clientSubject('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientSubject(undefined)).toBe('unknown');
  });
});

describe('an edge that dies (SIGKILL) does not hold its connection slots forever', () => {
  const LEASE_MS = 3_000;
  let c: ProcCluster;
  let redis: RedisClient;
  beforeAll(async () => {
    c = await startProcCluster({ edges: 2, workers: 1, env: { MAX_CONNECTIONS_PER_SESSION: '2', EDGE_LEASE_MS: String(LEASE_MS) } });
    redis = createRedis({ mode: 'single', url: c.redis.url }, 'test-crash');
  }, 60_000);
  afterAll(async () => {
    redis?.disconnect();
    await c?.close();
  });

  it("the dead edge's streams stop counting about a lease later; the survivor's keep counting as long as it lives", async () => {
    const keys = keySpace(c.prefix);
    const s = await c.create(endlessBody);
    const [e0, e1] = c.edges as [typeof c.edges[0], typeof c.edges[0]];
    const held = [await open(e0.url, s.eventsUrl), await open(e0.url, s.eventsUrl)];
    expect(held.map((h) => h.status)).toEqual([200, 200]);
    expect((await open(e1.url, s.eventsUrl)).status).toBe(429);

    await e0.kill('SIGKILL');
    const killedAt = Date.now();
    // Refused while the dead edge's lease runs, then admitted: poll until it is.
    let admitted: Stream | undefined;
    await waitFor(async () => {
      const h = await open(e1.url, s.eventsUrl);
      if (h.status === 200) admitted = h;
      else expect(h.status).toBe(429);
      return admitted !== undefined;
    }, 'the dead edge to stop counting', 4 * LEASE_MS + 5_000);
    expect(Date.now() - killedAt).toBeLessThan(3 * LEASE_MS);

    const second = await open(e1.url, s.eventsUrl);
    expect(second.status).toBe(200);
    const heldAt = Date.now();
    expect((await open(e1.url, s.eventsUrl)).status).toBe(429);
    // Twice the lease later, with only the survivor in the registry, its own two streams still count.
    await waitFor(async () => (await redis.zcard(keys.limits.edges)) === 1 && Date.now() > heldAt + 2 * LEASE_MS, 'two leases to pass');
    expect((await open(e1.url, s.eventsUrl)).status).toBe(429);
    admitted!.close();
    second.close();
    for (const h of held) h.close();
    await fetch(e1.url + s.cancelUrl, { method: 'POST', headers: c.auth });
  });
});
