import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, keySpace, storeFor } from '@relaycast/store';
import { createLogger } from '@relaycast/shared';
import { loadSystemConfig } from '../helpers/config.js';
import { encodeFrame } from '../../services/edge/src/sse.js';
import { startEdge, type Edge } from '../../services/edge/src/index.js';
import { startIngest, type Ingest } from '../../services/ingest/src/index.js';
import { Control } from '../../services/ingest/src/control.js';
import { generate } from '../../services/ingest/src/generate.js';
import { IngestMetrics } from '../../services/ingest/src/metrics.js';
import { compilePipelines } from '@relaycast/processors';
import { Dispatchers } from '../../services/ingest/src/upstream.js';
import { startMockModel, type MockModel } from '../../services/mock-model/src/index.js';
import { scrape, sample } from '../helpers/metrics.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { readSse, type ReceivedEvent } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';
import { authEnv, makeKey } from '../helpers/auth.js';

let redis: TestRedis;
let sys: TestSystem;
beforeAll(async () => {
  redis = await startRedis();
  sys = await startSystem({ redis, env: { UPSTREAM_MAX_ATTEMPTS: '2', UPSTREAM_IDLE_TIMEOUT_MS: '120000', UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '120000' } });
});
afterAll(async () => {
  await sys?.close();
  await redis?.close();
});

const ask = (extra: Record<string, unknown> = {}) => ({ messages: [{ role: 'user', content: 'observe me' }], seed: 11, ...extra });
const frameBytes = (events: ReceivedEvent[]) => events.reduce((n, e) => n + encodeFrame({ id: e.id!, event: e.event!, data: e.data }).length, 0);

function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = async () => {
      if (await cond()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(() => void tick(), 10);
    };
    void tick();
  });
}

describe('edge /metrics', () => {
  const edgeMetrics = () => scrape(`${sys.edges[0]!.url}/metrics`);

  it('counts open connections, fan-out, events and bytes delivered, replays and resumes exactly', async () => {
    const before = await edgeMetrics();
    const base = (name: string) => sample(before, name) ?? 0;
    // The first token waits until both subscribers are live, so nothing they get is a replay.
    const s = await sys.create(ask({ max_tokens: 12, mock: { firstTokenMs: 400, intervalMs: 10 } }));
    let firstSeen = 0;
    const both = [0, 1].map(() => readSse(sys.edges[0]!.url, s.eventsUrl, { onEvent: () => firstSeen++ }));
    await waitFor(async () => sample(await edgeMetrics(), 'relaycast_edge_open_connections') === 2, 'two open connections');
    const during = await edgeMetrics();
    expect(sample(during, 'relaycast_edge_sessions')).toBe(1);
    expect(sample(during, 'relaycast_edge_subscribers_per_session', { stat: 'max' })).toBe(2);
    const [a, b] = await Promise.all(both);
    expect(a!.events).toEqual(b!.events);
    const n = a!.events.length;
    expect(firstSeen).toBe(2 * n);

    const k = 4;
    const resumed = await readSse(sys.edges[0]!.url, s.eventsUrl, { lastEventId: String(k) });
    expect(resumed.events).toEqual(a!.events.slice(k));

    await waitFor(async () => sample(await edgeMetrics(), 'relaycast_edge_open_connections') === 0, 'connections to close');
    const after = await edgeMetrics();
    const grew = (name: string) => sample(after, name)! - base(name);
    expect(grew('relaycast_edge_events_delivered_total')).toBe(2 * n + (n - k));
    expect(grew('relaycast_edge_bytes_delivered_total')).toBe(2 * frameBytes(a!.events) + frameBytes(a!.events.slice(k)));
    expect(grew('relaycast_edge_events_replayed_total')).toBe(n - k);
    expect(grew('relaycast_edge_resumes_total')).toBe(1);
    expect(sample(after, 'relaycast_edge_sessions')).toBe(0);
    expect(sample(after, 'relaycast_edge_gaps_total')).toBe(0);
    expect(sample(after, 'relaycast_edge_slow_consumer_disconnects_total')).toBe(0);
    // Default process metrics come along.
    expect(sample(after, 'relaycast_edge_process_cpu_seconds_total')).toBeGreaterThan(0);
  });

  it('counts responses by route pattern and status class, never by raw path', async () => {
    const before = await edgeMetrics();
    const count = (text: string, route: string, status: string) => sample(text, 'relaycast_edge_http_responses_total', { route, status }) ?? 0;
    for (const path of ['/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA', '/v1/sessions/BBBBBBBBBBBBBBBBBBBBBB']) await (await fetch(sys.edges[0]!.url + path, { headers: sys.auth })).body?.cancel();
    await (await fetch(`${sys.edges[0]!.url}/no/such/route`)).body?.cancel();
    await (await fetch(`${sys.edges[0]!.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...sys.auth }, body: '{' })).body?.cancel();
    const after = await edgeMetrics();
    expect(count(after, 'GET /v1/sessions/:id', '4xx') - count(before, 'GET /v1/sessions/:id', '4xx')).toBe(2);
    expect(count(after, 'GET unmatched', '4xx') - count(before, 'GET unmatched', '4xx')).toBe(1);
    expect(count(after, 'POST /v1/sessions', '4xx') - count(before, 'POST /v1/sessions', '4xx')).toBe(1);
    expect(after).not.toContain('AAAAAAAAAAAAAAAAAAAAAA');
    expect(after).not.toContain('/no/such/route');
  });
});

describe('ingest /metrics', () => {
  const ingestMetrics = () => scrape(`http://127.0.0.1:${sys.ingest.metricsPort}/metrics`);

  const ended = (text: string, outcome: string) => sample(text, 'relaycast_ingest_generation_duration_seconds_count', { outcome }) ?? 0;

  it('records a generation: first-token and duration histograms, tokens per second, append latency', async () => {
    const before = await ingestMetrics();
    const s = await sys.create(ask({ max_tokens: 7, mock: { intervalMs: 5 } }));
    const r = await readSse(sys.edges[0]!.url, s.eventsUrl);
    expect(r.events.at(-1)!.event).toBe('done');
    await waitFor(async () => ended(await ingestMetrics(), 'done') === ended(before, 'done') + 1, 'the generation to be recorded');
    const after = await ingestMetrics();
    const grew = (name: string, labels: Record<string, string> = {}) => (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    expect(grew('relaycast_ingest_time_to_first_token_seconds_count')).toBe(1);
    expect(grew('relaycast_ingest_tokens_per_second_count')).toBe(1);
    expect(grew('relaycast_ingest_append_latency_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'relaycast_ingest_active_generations')).toBe(0);
  });

  it('counts upstream errors by kind and the retries before giving up', async () => {
    const before = await ingestMetrics();
    const s = await sys.create(ask({ max_tokens: 3, mock: { fault: 'status:503' } }));
    const r = await readSse(sys.edges[0]!.url, s.eventsUrl);
    expect(JSON.parse(r.events.at(-1)!.data).code).toBe('upstream_http');
    await waitFor(async () => ended(await ingestMetrics(), 'error') === ended(before, 'error') + 1, 'the failed generation to be recorded');
    const after = await ingestMetrics();
    const grew = (name: string, labels: Record<string, string> = {}) => (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    // UPSTREAM_MAX_ATTEMPTS=2: the first 503 is retried once, the second ends the session.
    expect(grew('relaycast_ingest_upstream_errors_total', { code: 'upstream_http' })).toBe(1);
    expect(grew('relaycast_ingest_retries_total', { kind: 'upstream' })).toBe(1);
    expect(grew('relaycast_ingest_time_to_first_token_seconds_count')).toBe(0);
  });

  it('shows a running generation as active until it ends', async () => {
    const s = await sys.create(ask({ max_tokens: 3, mock: { firstTokenMs: 600_000 } }));
    await waitFor(async () => sample(await ingestMetrics(), 'relaycast_ingest_active_generations') === 1, 'one active generation');
    expect((await fetch(sys.edges[0]!.url + s.cancelUrl, { method: 'POST', headers: sys.auth })).status).toBe(202);
    await waitFor(async () => sample(await ingestMetrics(), 'relaycast_ingest_active_generations') === 0, 'no active generation');
    expect(ended(await ingestMetrics(), 'cancelled')).toBeGreaterThanOrEqual(1);
  });

  it('counts a reset when an attempt takes over a session an earlier attempt began', async () => {
    const cfg = sys.cfg;
    const keys = keySpace(cfg.REDIS_KEY_PREFIX);
    const cmd = createRedis(cfg.redis, 'test-cmd');
    const sub = createRedis(cfg.redis, 'test-sub', { subscriber: true });
    const dispatchers = new Dispatchers(cfg);
    try {
      const store = storeFor(cfg, cmd);
      const id = 'ResetResetResetReset01';
      await store.create(id, { model: 'mock', createdAt: Date.now() });
      await store.begin(id); // attempt 1, by a worker that then died
      const metrics = new IngestMetrics();
      const result = await generate(
        { sessionId: id, model: 'mock', messages: [{ role: 'user', content: 'again' }], params: { max_tokens: 2 } },
        { cfg, store, control: new Control(sub, keys), dispatchers, pipelines: compilePipelines(cfg), log: createLogger('test', 'silent'), metrics, shutdown: new AbortController().signal },
      );
      expect(result).toBe('ended');
      const text = await metrics.registry.metrics();
      expect(sample(text, 'relaycast_ingest_resets_total')).toBe(1);
      expect(sample(text, 'relaycast_ingest_generation_duration_seconds_count', { outcome: 'done' })).toBe(1);
      expect((await store.range(id, 1, 10)).map((e) => e.type)[0]).toBe('reset');
    } finally {
      await dispatchers.close();
      cmd.disconnect();
      sub.disconnect();
    }
  });
});

describe('health and readiness', () => {
  it('edge and ingest answer /healthz 200 always and /readyz 503 while draining', async () => {
    const edge = sys.edges[0]!;
    const ops = `http://127.0.0.1:${sys.ingest.metricsPort}`;
    for (const base of [edge.url, ops]) {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
    }
    edge.state.draining = true;
    sys.ingest.state.draining = true;
    try {
      for (const base of [edge.url, ops]) {
        const res = await fetch(`${base}/readyz`);
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { code: string } }).error.code).toMatch(/draining|not_ready/);
        expect((await fetch(`${base}/healthz`)).status).toBe(200);
      }
    } finally {
      edge.state.draining = false;
      sys.ingest.state.draining = false;
    }
  });

  it("ingest's metrics port answers unknown paths and methods with JSON errors", async () => {
    const ops = `http://127.0.0.1:${sys.ingest.metricsPort}`;
    const missing = await fetch(`${ops}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const post = await fetch(`${ops}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    await post.body?.cancel();
  });
});

describe('structured logs', () => {
  let lines: Record<string, unknown>[];
  let edge: Edge;
  let ingest: Ingest;
  let mock: MockModel;
  const key = makeKey('obs', 'obs');
  const secrets = ['sk-upstream-secret-123', key.key, 'cookie-secret-789'];

  beforeAll(async () => {
    lines = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    mock = await startMockModel({ port: 0 });
    process.env.RC_TEST_UPSTREAM_KEY = secrets[0];
    const cfg = loadSystemConfig({
      NODE_ENV: 'test',
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: redis.prefix(),
      PORT: '0',
      METRICS_PORT: '0',
      LOG_LEVEL: 'debug',
      ROUTES_JSON: JSON.stringify({ mock: { provider: 'openai', baseUrl: mock.url, model: 'mock-1', allowMock: true, apiKeyEnv: 'RC_TEST_UPSTREAM_KEY' } }),
      ...authEnv([key]),
    });
    ingest = await startIngest(cfg, createLogger('ingest', cfg.LOG_LEVEL, sink));
    edge = await startEdge(cfg, createLogger('edge', cfg.LOG_LEVEL, sink));
  });
  afterAll(async () => {
    await edge?.close();
    await ingest?.close();
    await mock?.close();
    delete process.env.RC_TEST_UPSTREAM_KEY;
  });

  it('puts the request id and session id on every line of a request, carries the id into ingest, and logs no secret', async () => {
    const started = lines.length;
    const res = await fetch(`${edge.url}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-obs-1', ...key.headers, cookie: `sid=${secrets[2]}` },
      body: JSON.stringify(ask({ max_tokens: 3 })),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-request-id')).toBe('req-obs-1');
    const s = (await res.json()) as { id: string; eventsUrl: string; statusUrl: string; token: string };
    secrets.push(s.token);
    const r = await readSse(edge.url, s.eventsUrl);
    expect(r.events.at(-1)!.event).toBe('done');
    await (await fetch(edge.url + s.statusUrl, { headers: { 'x-request-id': 'req-obs-3', ...key.headers } })).body?.cancel();
    // A fault, so the upstream request that carried the API key fails and is logged about.
    const failed = await fetch(`${edge.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'req-obs-4', ...key.headers }, body: JSON.stringify(ask({ mock: { fault: 'drop:1' } })) });
    const f = (await failed.json()) as { id: string; eventsUrl: string };
    await readSse(edge.url, f.eventsUrl);
    await waitFor(() => lines.some((l) => l.service === 'ingest' && l.sessionId === f.id && l.msg === 'generation ended'), 'ingest to log the failed generation');

    const mine = lines.slice(started);
    const edgeLines = mine.filter((l) => l.service === 'edge');
    expect(edgeLines.length).toBeGreaterThanOrEqual(4);
    for (const l of edgeLines) {
      expect(l.reqId, JSON.stringify(l)).toEqual(expect.any(String));
      expect(l.sessionId, JSON.stringify(l)).toEqual(expect.any(String));
    }
    const created = edgeLines.find((l) => l.msg === 'session created' && l.reqId === 'req-obs-1')!;
    expect(created.sessionId).toBe(s.id);
    expect(edgeLines.find((l) => l.msg === 'request completed' && l.reqId === 'req-obs-1')).toMatchObject({ sessionId: s.id, route: '/v1/sessions', status: 201 });
    expect(edgeLines.find((l) => l.msg === 'request completed' && l.route === '/v1/sessions/:id/events' && l.sessionId === s.id)).toMatchObject({ status: 200, completed: true });
    expect(edgeLines.find((l) => l.reqId === 'req-obs-3')).toMatchObject({ sessionId: s.id, route: '/v1/sessions/:id' });
    // ingest joins its lines to the request that created the session.
    expect(mine.find((l) => l.service === 'ingest' && l.sessionId === s.id && l.msg === 'generation ended')).toMatchObject({ reqId: 'req-obs-1', level: 20 });
    expect(mine.find((l) => l.service === 'ingest' && l.sessionId === f.id && l.msg === 'generation ended')).toMatchObject({ reqId: 'req-obs-4' });
    const all = JSON.stringify(lines);
    for (const secret of secrets) expect(all).not.toContain(secret);
  });

  it('replaces a request id that is not short and plain with its own', async () => {
    const res = await fetch(`${edge.url}/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA`, { headers: { 'x-request-id': 'x'.repeat(200) } });
    await res.body?.cancel();
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('logs at the configured level', () => {
    const out: string[] = [];
    const sink = new Writable({ write: (c: Buffer, _e, cb) => (out.push(c.toString()), cb()) });
    const log = createLogger('edge', 'warn', sink);
    log.info('hidden');
    log.warn('shown');
    expect(out.join('')).toContain('shown');
    expect(out.join('')).not.toContain('hidden');
  });
});
