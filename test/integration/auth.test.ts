import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@relaycast/shared';
import { loadSystemConfig } from '../helpers/config.js';
import { TokenSigner } from '../../services/edge/src/tokens.js';
import { startEdge, type Edge } from '../../services/edge/src/index.js';
import { startIngest, type Ingest } from '../../services/ingest/src/index.js';
import { startMockModel, type MockModel } from '../../services/mock-model/src/index.js';
import { TEST_TOKEN_SECRET, authEnv, bearer, createSession, makeKey, mintToken, type CreatedSession } from '../helpers/auth.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { readSse, type ReceivedEvent } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * Who may create, read, query and cancel sessions: API keys (tenants' servers) and subscribe tokens (one
 * session's readers), over real HTTP against two real edges sharing one Redis.
 */

const other = makeKey('other-1', 'other');
const mockOnly = makeKey('narrow-1', 'test', { models: ['mock-b'] });
let sys: TestSystem;
let model: MockModel;
beforeAll(async () => {
  model = await startMockModel({ port: 0 });
  const route = { provider: 'openai', baseUrl: model.url, model: 'mock-1', allowMock: true };
  sys = await startSystem({ edges: 2, keys: [other, mockOnly], env: { ROUTES_JSON: JSON.stringify({ mock: route, 'mock-b': route }) } });
});
afterAll(async () => {
  await sys?.close();
  await model?.close();
});

const edge = (i = 0) => sys.edges[i]!.url;
const ask = (extra: Record<string, unknown> = {}) => ({ messages: [{ role: 'user', content: 'private to its tenant' }], ...extra });
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;
const isTerminal = (e: ReceivedEvent) => e.event === 'done' || e.event === 'error' || e.event === 'cancelled';
/** A session that keeps running until cancelled (its first token is ten minutes away). */
const endless = (key = sys.apiKey) => createSession(edge(), key, ask({ mock: { firstTokenMs: 600_000 } }));
const status = (s: CreatedSession, headers: Record<string, string>, i = 0) => fetch(edge(i) + s.statusUrl, { headers });
const cancel = (s: CreatedSession, headers: Record<string, string>, i = 0) => fetch(edge(i) + s.cancelUrl, { method: 'POST', headers });
const events = (id: string, token: string) => `/v1/sessions/${id}/events?token=${token}`;

describe('API keys: creating sessions and minting tokens', () => {
  const post = (headers: Record<string, string>, body: unknown = ask({ max_tokens: 1 })) => fetch(`${edge()}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('401 with a Bearer challenge for no key, a malformed header, an unknown key, and a session token used as a key', async () => {
    const s = await sys.create(ask({ max_tokens: 1 }));
    for (const headers of [{}, { authorization: sys.apiKey }, { authorization: 'Basic Zm9vOmJhcg==' }, bearer(`rk_${'A'.repeat(43)}`), bearer(sys.apiKey.slice(0, -1)), bearer(s.token)]) {
      const res = await post(headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="relaycast"/);
      expect((await errorOf(res)).code).toBe('unauthorized');
    }
  });

  it('201 with a token bound to the session, an eventsUrl that carries it, and every link', async () => {
    const before = Date.now();
    const res = await post(sys.auth, ask({ max_tokens: 3 }));
    expect(res.status).toBe(201);
    const s = (await res.json()) as CreatedSession;
    expect(s.model).toBe('mock');
    expect(s.token).toMatch(/^rt1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(s.tokenExpiresAt).toBeGreaterThanOrEqual(before + sys.cfg.TOKEN_TTL_SECONDS * 1000);
    expect(s.tokenExpiresAt).toBeLessThanOrEqual(Date.now() + sys.cfg.TOKEN_TTL_SECONDS * 1000);
    expect(s).toMatchObject({ eventsUrl: `/v1/sessions/${s.id}/events?token=${s.token}`, statusUrl: `/v1/sessions/${s.id}`, cancelUrl: `/v1/sessions/${s.id}/cancel`, tokenUrl: `/v1/sessions/${s.id}/token` });
    expect(new TokenSigner([TEST_TOKEN_SECRET]).verify(s.token)).toEqual({ sessionId: s.id, tenant: 'test', expiresAt: s.tokenExpiresAt });
    const r = await readSse(edge(1), s.eventsUrl);
    expect(r.events.at(-1)!.event).toBe('done');
  });

  it('403 model_forbidden for a key that may not use the model asked for (or the default one), 201 for one it may', async () => {
    const narrow = mockOnly.headers;
    for (const body of [ask({ model: 'mock', max_tokens: 1 }), ask({ max_tokens: 1 })]) {
      const res = await post(narrow, body);
      expect(res.status).toBe(403);
      expect((await errorOf(res)).code).toBe('model_forbidden');
    }
    const ok = await createSession(edge(1), mockOnly.key, ask({ model: 'mock-b', max_tokens: 2 }));
    expect((await readSse(edge(), ok.eventsUrl)).events.at(-1)!.event).toBe('done');
  });

  it('the token endpoint mints a fresh token for the owner only', async () => {
    const s = await sys.create(ask({ max_tokens: 4 }));
    const mint = (headers: Record<string, string>, i = 0) => fetch(edge(i) + s.tokenUrl, { method: 'POST', headers });
    const res = await mint(sys.auth, 1);
    expect(res.status).toBe(200);
    const fresh = (await res.json()) as { token: string; tokenExpiresAt: number; eventsUrl: string };
    expect(fresh.token).not.toBe(s.token);
    expect(fresh.eventsUrl).toBe(events(s.id, fresh.token));
    expect((await readSse(edge(), fresh.eventsUrl)).events.at(-1)!.event).toBe('done');
    expect((await mint(other.headers)).status).toBe(403);
    expect((await mint({})).status).toBe(401);
    // A session token cannot mint more of itself: only whoever holds the key can extend access.
    expect((await mint(bearer(s.token))).status).toBe(401);
    const unknown = await fetch(`${edge()}/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA/token`, { method: 'POST', headers: sys.auth });
    expect(unknown.status).toBe(404);
  });
});

describe("a session's token reaches that session only", () => {
  let a: CreatedSession;
  let b: CreatedSession;
  beforeAll(async () => {
    a = await endless();
    b = await endless(other.key);
  });
  afterAll(async () => {
    await cancel(a, sys.auth);
    await cancel(b, other.headers);
  });

  it("session A's token cannot read, query or cancel session B (403), on either edge, in the query or the header", async () => {
    for (const i of [0, 1]) {
      const r = await readSse(edge(i), events(b.id, a.token));
      expect(r.status).toBe(403);
      expect(JSON.parse(r.raw).error.code).toBe('forbidden');
      const viaHeader = await fetch(`${edge(i)}/v1/sessions/${b.id}/events`, { headers: bearer(a.token) });
      expect(viaHeader.status).toBe(403);
      expect((await status(b, bearer(a.token), i)).status).toBe(403);
      expect((await cancel(b, bearer(a.token), i)).status).toBe(403);
    }
    // B is untouched: still running, no cancel recorded.
    const st = (await (await status(b, other.headers)).json()) as { status: string };
    expect(['queued', 'running']).toContain(st.status);
  });

  it("another tenant's key cannot query, cancel or mint for A (403); A's tenant's key and A's token can query it", async () => {
    expect((await status(a, other.headers)).status).toBe(403);
    expect((await cancel(a, other.headers)).status).toBe(403);
    expect((await fetch(edge() + a.tokenUrl, { method: 'POST', headers: other.headers })).status).toBe(403);
    for (const headers of [sys.auth, bearer(a.token)]) {
      const res = await status(a, headers, 1);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: string }).id).toBe(a.id);
    }
    // Any key of the owning tenant counts, not just the one that created it.
    const sameTenant = await status(a, mockOnly.headers);
    expect(sameTenant.status).toBe(200);
  });

  it('an API key cannot open the event stream (a browser must only ever hold a token)', async () => {
    const res = await fetch(`${edge()}/v1/sessions/${a.id}/events`, { headers: sys.auth });
    expect(res.status).toBe(401);
    expect((await readSse(edge(), events(a.id, sys.apiKey))).status).toBe(401);
  });

  it('a tampered, truncated, re-versioned, foreign-secret or expired token is refused with 401 on events, status and cancel', async () => {
    const [prefix, payload, sig] = a.token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { s: string; t: string; e: number };
    const reencode = (c: object) => Buffer.from(JSON.stringify(c)).toString('base64url');
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const bad: [string, string][] = [
      ['payload naming session B, old signature', `${prefix}.${reencode({ ...claims, s: b.id })}.${sig}`],
      ['payload with a later expiry, old signature', `${prefix}.${reencode({ ...claims, e: claims.e + 86_400_000 })}.${sig}`],
      ['one signature character changed', `${prefix}.${payload}.${flip(sig, 5)}`],
      ['last signature character changed', `${prefix}.${payload}.${flip(sig, sig.length - 1)}`],
      ['signature cut short', `${prefix}.${payload}.${sig.slice(0, -2)}`],
      ['signature missing', `${prefix}.${payload}`],
      ['another version', `rt2.${payload}.${sig}`],
      ['signed with another secret', new TokenSigner(['another-secret-another-secret-another-secret']).mint(a.id, 'test', 60_000).token],
      ['expired', mintToken(a.id, 'test', -1)],
      ['garbage', 'rt1.%%%.###'],
    ];
    for (const [what, token] of bad) {
      const r = await readSse(edge(), `/v1/sessions/${a.id}/events?token=${encodeURIComponent(token)}`);
      expect(r.status, what).toBe(401);
      expect(JSON.parse(r.raw).error.code, what).toBe('unauthorized');
      expect((await status(a, bearer(token))).status, what).toBe(401);
      expect((await cancel(a, bearer(token))).status, what).toBe(401);
    }
    const expired = await status(a, bearer(mintToken(a.id, 'test', -1)));
    expect((await errorOf(expired)).message).toMatch(/expired/);
    // Still running: none of those cancels took effect.
    expect(((await (await status(a, sys.auth)).json()) as { status: string }).status).not.toBe('cancelled');
  });

  it("a validly signed token naming A but another tenant is refused (403): a token carries its tenant", async () => {
    const r = await readSse(edge(), events(a.id, mintToken(a.id, 'other')));
    expect(r.status).toBe(403);
    expect((await status(a, bearer(mintToken(a.id, 'other')))).status).toBe(403);
  });

  it("a session's own token reads, queries and cancels it", async () => {
    const s = await endless();
    const reading = readSse(edge(1), s.eventsUrl);
    expect((await status(s, bearer(s.token))).status).toBe(200);
    expect((await cancel(s, bearer(s.token), 1)).status).toBe(202);
    const r = await reading;
    expect(r.events.map((e) => e.event)).toEqual(['cancelled']);
  });
});

describe('token expiry during a live stream', () => {
  let short: TestSystem;
  beforeAll(async () => {
    short = await startSystem({ edges: 2, redis: sys.redis, env: { TOKEN_TTL_SECONDS: '2' } });
  });
  afterAll(() => short?.close());

  it('ends the stream at expiry without a terminal event; the old token gets 401; a fresh one resumes with no gap and no duplicate', async () => {
    const base = (i: number) => short.edges[i]!.url;
    // About 6 s of output, three token lifetimes.
    const s = await short.create(ask({ max_tokens: 150, mock: { intervalMs: 40 } }));
    const first = await readSse(base(0), s.eventsUrl, { timeoutMs: 10_000 });
    const endedAt = Date.now();
    expect(first.status).toBe(200);
    expect(first.ended).toBe(true);
    expect(first.events.length).toBeGreaterThan(0);
    expect(first.events.some(isTerminal)).toBe(false);
    // Ended by the expiry, not earlier and not much later.
    expect(endedAt).toBeGreaterThanOrEqual(s.tokenExpiresAt - 50);
    expect(endedAt).toBeLessThan(s.tokenExpiresAt + 1_000);

    const again = await readSse(base(1), s.eventsUrl, { lastEventId: first.events.at(-1)!.id! });
    expect(again.status).toBe(401);
    expect(JSON.parse(again.raw).error.message).toMatch(/expired/);

    // The client holding the key mints a fresh token each time and carries on from its last id.
    const all = [...first.events];
    for (let leg = 0; leg < 10 && !all.some(isTerminal); leg++) {
      const fresh = (await (await fetch(base(leg % 2) + s.tokenUrl, { method: 'POST', headers: short.auth })).json()) as { eventsUrl: string };
      const r = await readSse(base((leg + 1) % 2), fresh.eventsUrl, { query: { lastEventId: all.at(-1)!.id! }, timeoutMs: 10_000 });
      expect(r.status).toBe(200);
      all.push(...r.events);
    }
    expect(all.at(-1)!.event).toBe('done');
    expect(all.map((e) => Number(e.id))).toEqual(all.map((_, i) => i + 1));
    const fresh = (await (await fetch(base(0) + s.tokenUrl, { method: 'POST', headers: short.auth })).json()) as { eventsUrl: string };
    const reference = await readSse(base(0), fresh.eventsUrl);
    expect(all).toEqual(reference.events);
    expect(short.edges.reduce((n, e) => n + e.stats.tokenExpiries, 0)).toBeGreaterThanOrEqual(1);
  });
});

describe('logs never carry an API key, a token or the token secret', () => {
  let redis: TestRedis;
  let mock: MockModel;
  let edge0: Edge;
  let ingest: Ingest;
  const lines: string[] = [];
  const key = makeKey('logged-1', 'acme');

  beforeAll(async () => {
    redis = await startRedis();
    mock = await startMockModel({ port: 0 });
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        cb();
      },
    });
    const cfg = loadSystemConfig({ NODE_ENV: 'test', REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix(), PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'trace', MOCK_MODEL_URL: mock.url, ...authEnv([key]), TOKEN_TTL_SECONDS: '1' });
    ingest = await startIngest(cfg, createLogger('ingest', cfg.LOG_LEVEL, sink));
    edge0 = await startEdge(cfg, createLogger('edge', cfg.LOG_LEVEL, sink));
  });
  afterAll(async () => {
    await edge0?.close();
    await ingest?.close();
    await mock?.close();
    await redis?.close();
  });

  it('through every path that handles them: create, stream (query and header), status, cancel, mint, expiry, and every refusal', async () => {
    const u = edge0.url;
    const secrets = [key.key, TEST_TOKEN_SECRET];
    const s = await createSession(u, key.key, ask({ max_tokens: 30, mock: { intervalMs: 50 } }));
    secrets.push(s.token);
    // Streams until the 1 s token expires, then resumes with a minted one.
    const first = await readSse(u, s.eventsUrl);
    const minted = (await (await fetch(u + s.tokenUrl, { method: 'POST', headers: key.headers })).json()) as { token: string };
    secrets.push(minted.token);
    const viaHeader = await fetch(`${u}/v1/sessions/${s.id}/events`, { headers: { ...bearer(minted.token), 'last-event-id': first.events.at(-1)!.id! } });
    expect(viaHeader.status).toBe(200);
    await viaHeader.text();
    await (await status(s, bearer(minted.token))).text().catch(() => '');
    await (await fetch(u + s.statusUrl, { headers: key.headers })).text();
    await (await fetch(u + s.cancelUrl, { method: 'POST', headers: bearer(minted.token) })).text();
    // Refusals: an unknown key, a tampered token, an expired token, a key where a token belongs.
    const wrongKey = `rk_${'Z'.repeat(43)}`;
    const tampered = `${minted.token.slice(0, -3)}AAA`;
    const expired = mintToken(s.id, 'acme', -1);
    secrets.push(wrongKey, tampered, expired);
    expect((await fetch(`${u}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(wrongKey) }, body: '{}' })).status).toBe(401);
    for (const t of [tampered, expired, key.key]) expect((await readSse(u, events(s.id, t))).status).toBe(401);
    expect((await fetch(u + s.statusUrl, { headers: bearer(tampered) })).status).toBe(401);
    // A body too large and an unparsable one go through the error handler.
    expect((await fetch(`${u}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...key.headers }, body: '{' })).status).toBe(400);

    const all = lines.join('\n');
    expect(lines.length).toBeGreaterThan(10);
    for (const secret of secrets) expect(all).not.toContain(secret);
    // No fragment either: a signature or a key body alone is as good as the whole to an attacker.
    for (const t of [s.token, minted.token]) expect(all).not.toContain(t.split('.')[2]!);
    expect(all).not.toContain(key.key.slice(3));
    // What is logged instead: who called (tenant, key id), never with what.
    const created = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'session created');
    expect(created).toMatchObject({ tenant: 'acme', keyId: 'logged-1', sessionId: s.id });
  });
});
