import { spawn, type ChildProcess } from 'node:child_process';
import { request, type ClientRequest } from 'node:http';
import { connect } from 'node:net';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authEnv, createSession, makeKey } from '../helpers/auth.js';
import { sample, scrape } from '../helpers/metrics.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 17 item 2: connections that never send a byte used to exhaust the edge's file descriptors, so that
 * edge_full never fired and every new client got an empty reply. The edge and the flood are separate OS
 * processes; the flood comes from several 127.0.0.x addresses. The 100,000-socket run is
 * bench/silent-sockets.mjs (results in docs/reliability.md); this one is sized for CI.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const FLOOD = fileURLToPath(new URL('../helpers/silent-flood.mjs', import.meta.url));
const PROBE = fileURLToPath(new URL('../helpers/probe.mjs', import.meta.url));
const key = makeKey('silent', 'test');

interface EdgeProc {
  child: ChildProcess;
  url: string;
  port: number;
  logs: string[];
}

let redis: TestRedis;
const started: ChildProcess[] = [];
beforeAll(async () => {
  redis = await startRedis();
});
afterEach(() => {
  for (const c of started.splice(0)) c.kill('SIGKILL');
});
afterAll(async () => {
  await redis?.close();
});

/** An edge process; `nofile` runs it under that open-file limit (soft:hard), as a small host would. */
async function startEdge(env: Record<string, string>, nofile?: string): Promise<EdgeProc> {
  const port = await freePort();
  const node = [process.execPath, 'services/edge/dist/main.js'];
  const [cmd, ...args] = nofile ? ['prlimit', `--nofile=${nofile}`, '--', ...node] : node;
  const child = spawn(cmd!, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix(), PORT: String(port), LOG_LEVEL: 'info', ...authEnv([key]), ...env } });
  started.push(child);
  const logs: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => logs.push(l));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) || child.exitCode !== null, 60_000, 'the edge to be healthy');
  expect(child.exitCode).toBeNull();
  return { child, url, port, logs };
}

/** Runs the flood process to its end; `during` runs while it floods. */
async function flood(port: number, o: { total: number; concurrency: number; from: string[]; nice?: number }, during?: (running: () => boolean) => Promise<void>) {
  const child = spawn(process.execPath, [FLOOD, JSON.stringify({ port, ...o, maxMs: 90_000 })], { stdio: ['ignore', 'pipe', 'ignore'] });
  started.push(child);
  if (o.nice) setPriority(child.pid!, o.nice);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let done = false;
  void exited.then(() => (done = true));
  await during?.(() => !done);
  await exited;
  return JSON.parse(out) as { attempted: number; connected: number; closedByServer: number; errors: Record<string, number>; maxOpen: number; ms: number; complete: boolean };
}

interface Probe {
  status: number;
  ms: number;
  connectMs: number | null;
  /** How long the prober itself was not running during this probe (waiting for a CPU). */
  stalledMs: number;
  body: string;
}

/**
 * A prober process (neither the flood's nor this one) asking `url` every 20 ms until stopped. It stands for a
 * load balancer, which has CPUs of its own: raised priority where allowed, so that waiting for one of a busy
 * CI machine's CPUs is not counted against the edge.
 */
function startProber(url: string): { stop(): Promise<{ probes: Probe[]; ownDelay: { p99: number; max: number } }> } {
  const child = spawn(process.execPath, [PROBE, JSON.stringify({ url, everyMs: 20 })], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(child);
  try {
    setPriority(child.pid!, -10);
  } catch {
    // Not root: the prober runs at normal priority.
  }
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
      return JSON.parse(out);
    },
  };
}

/** GET on a new connection (never a pooled one: the point is that a new client gets in). */
function getFresh(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; ms: number; req: ClientRequest }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers }, (res) => {
      if (res.headers['content-type']?.startsWith('text/event-stream')) return resolve({ status: res.statusCode ?? 0, body: '', ms: performance.now() - t0, req });
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - t0, req }));
    });
    req.on('error', reject);
    req.end();
  });
}

const metric = async (e: EdgeProc, name: string, labels: Record<string, string> = {}) => sample(await scrape(`${e.url}/metrics`), name, labels);

describe('silent sockets', () => {
  it('a connection without complete request headers is closed after HEADERS_TIMEOUT_MS, counted and logged; an open stream is not', async () => {
    const edge = await startEdge({ HEADERS_TIMEOUT_MS: '500' });
    const s = await createSession(edge.url, key.key, { messages: [{ role: 'user', content: 'silent' }] });
    const stream = await getFresh(`${edge.url}${s.eventsUrl}`);
    expect(stream.status).toBe(200);
    // Half a request line and headers, then silence: the slow-headers variant.
    const partial = connect({ port: edge.port, host: '127.0.0.1', localAddress: '127.0.0.3' }, () => partial.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'));
    const partialClosed = new Promise<void>((resolve) => partial.on('close', () => resolve()));
    partial.on('error', () => undefined);

    const r = await flood(edge.port, { total: 300, concurrency: 300, from: ['127.0.0.2'] });
    expect(r, JSON.stringify(r)).toMatchObject({ complete: true, connected: 300 });
    await partialClosed;
    expect(await metric(edge, 'relaycast_edge_headers_timeouts_total')).toBe(301);
    expect(await metric(edge, 'relaycast_edge_open_connections')).toBe(1);
    await edge.child.kill('SIGKILL');
    stream.req.destroy();
  });

  it('a flood logs one summary line, not a line per socket', async () => {
    const edge = await startEdge({ HEADERS_TIMEOUT_MS: '200' });
    await flood(edge.port, { total: 200, concurrency: 200, from: ['127.0.0.4'] });
    await waitFor(() => edge.logs.some((l) => l.includes('closed connections that sent no complete request headers')), 20_000, 'the summary log line');
    const lines = edge.logs.filter((l) => l.includes('closed connections that sent no complete request headers'));
    expect(lines.length).toBe(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ headersTimeouts: 200 });
  });

  it('under a 400-fd limit: streams stop at edge_full below it, a flood of silent sockets never keeps /healthz or a new client out, and HEALTH_PORT answers every probe at the first try, 99% within 100 ms', async () => {
    // Soft 300, hard 400: node raises the soft limit to the hard one as it starts.
    const healthPort = await freePort();
    const edge = await startEdge({ HEADERS_TIMEOUT_MS: '3000', HEALTH_PORT: String(healthPort) }, '300:400');
    expect(await metric(edge, 'relaycast_edge_process_max_fds')).toBe(400);
    // 400 less 64 reserved fds; of those, 64 kept free of streams.
    expect(await metric(edge, 'relaycast_edge_sockets_max')).toBe(336);
    expect(edge.logs.some((l) => l.includes('MAX_CONNECTIONS lowered to fit the open-file limit'))).toBe(true);

    const s = await createSession(edge.url, key.key, { messages: [{ role: 'user', content: 'full' }] });
    const streams: ClientRequest[] = [];
    for (let i = 0; i < 272; i++) {
      const st = await getFresh(`${edge.url}${s.eventsUrl}`);
      expect(st.status, `stream ${i + 1}`).toBe(200);
      streams.push(st.req);
    }
    const full = await getFresh(`${edge.url}${s.eventsUrl}`);
    expect(full.status).toBe(503);
    expect(JSON.parse(full.body).error.code).toBe('edge_full');

    const probes: { status: number; ms: number }[] = [];
    const duringFull: number[] = [];
    let shed = 0;
    let healthRun: Awaited<ReturnType<ReturnType<typeof startProber>['stop']>> | undefined;
    // The flood at the lowest priority: an attacker's CPUs are not the edge's (its connections still cost this
    // host the kernel's work and the edge's accepts); on a 2-core CI machine it would otherwise take a core.
    const r = await flood(edge.port, { total: 10_000, concurrency: 1_500, from: ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'], nice: 19 }, async (running) => {
      // The probe listener: one try each, on a new connection, every 20 ms while the flood runs.
      const prober = startProber(`http://127.0.0.1:${healthPort}/healthz`);
      while (running()) {
        // A probe whose connection is accepted amid a burst of more silent connections than the cap has room
        // for can be shed before its request is read (docs/reliability.md §11): like a load balancer's health
        // check, it tries once more on a new connection, and that answer counts.
        const probe = () => getFresh(`${edge.url}/healthz`).catch((e: Error) => ({ status: 0, ms: 0, body: e.message }));
        let h = await probe();
        if (h.status === 0) {
          shed++;
          h = await probe();
        }
        probes.push({ status: h.status, ms: h.ms });
        if (probes.length % 5 === 0) duringFull.push((await getFresh(`${edge.url}${s.eventsUrl}`).catch(() => ({ status: 0 }))).status);
      }
      healthRun = await prober.stop();
    });
    const healthProbes = healthRun!.probes;
    const healthMs = healthProbes.map((p) => p.ms).sort((a, b) => a - b);
    console.log(`silent flood under 400 fds: ${r.attempted} attempts in ${r.ms} ms, ${probes.length} healthz probes on PORT (${shed} shed once, ${probes.filter((p) => p.ms >= 100).length} over 100 ms), max ${Math.max(...probes.map((p) => p.ms)).toFixed(1)} ms; ${healthMs.length} on HEALTH_PORT, p50 ${healthMs[healthMs.length >> 1]?.toFixed(1)} ms, max ${healthMs.at(-1)?.toFixed(1)} ms, ${healthProbes.filter((p) => p.ms >= 100).length} over 100 ms before the prober's own stalls are taken off (its loop delay max ${healthRun!.ownDelay.max.toFixed(1)} ms)`);
    expect(r, JSON.stringify(r)).toMatchObject({ complete: true, attempted: 10_000 });
    expect(probes.length).toBeGreaterThan(5);
    expect(probes.filter((p) => p.status !== 200)).toEqual([]);
    // A bound for a loaded CI machine; the 100 ms target is measured by bench/silent-sockets.mjs.
    expect(Math.max(...probes.map((p) => p.ms))).toBeLessThan(5_000);
    expect(shed, 'probes shed on their first connection').toBeLessThan(probes.length / 100 + 1);
    // Issue 17's target, on the probe listener (its own accept queue and thread): every probe answered at the
    // first try, none needing a resent SYN (1 s later; PORT's probes reach seconds at full size).
    expect(healthProbes.length).toBeGreaterThan(20);
    expect(healthProbes.filter((p) => p.status !== 200 || p.body !== '{"ok":true}')).toEqual([]);
    expect(healthProbes.filter((p) => !(p.ms < 1_000))).toEqual([]);
    // Within 100 ms, counting each probe without the time the prober itself waited for a CPU (a load balancer
    // has CPUs of its own). 99%, not all: on a loaded 2-core machine about 1 probe in 300 still takes 110-320 ms
    // (docs/reliability.md §11, "Limits").
    const slow = healthProbes.filter((p) => !(p.ms - p.stalledMs < 100));
    expect(slow.length, slow.map((p) => `${Math.round(p.ms)} ms, prober stalled ${Math.round(p.stalledMs)} ms, connect ${Math.round(p.connectMs ?? Number.NaN)} ms`).join('; ')).toBeLessThanOrEqual(Math.floor(healthProbes.length / 100));
    // Full: no stream is admitted (503 edge_full; 0 when its connection was shed amid the flood).
    expect(duringFull.filter((st) => st !== 503 && st !== 0)).toEqual([]);
    expect(duringFull.filter((st) => st === 503).length).toBeGreaterThan(0);
    // The flood held more sockets than the edge may: it shed the oldest silent ones, never a stream.
    expect(await metric(edge, 'relaycast_edge_sockets_shed_total', { reason: 'evicted' })).toBeGreaterThan(0);
    expect(await metric(edge, 'relaycast_edge_open_connections')).toBe(272);

    for (const st of streams) st.destroy();
    await waitFor(async () => (await metric(edge, 'relaycast_edge_open_connections')) === 0, 10_000, 'the streams to close');
    expect((await getFresh(`${edge.url}${s.eventsUrl}`)).status).toBe(200);
  }, 120_000);

  it('HEALTH_PORT answers /healthz, /readyz and /metrics, anything else with the JSON error; /readyz fails while the edge drains', async () => {
    const healthPort = await freePort();
    const edge = await startEdge({ HEALTH_PORT: String(healthPort), DRAIN_WINDOW_MS: '20000' });
    const h = `http://127.0.0.1:${healthPort}`;
    expect(edge.logs.some((l) => l.includes(`"healthPort":${healthPort}`))).toBe(true);
    expect(await (await fetch(`${h}/healthz`)).json()).toEqual({ ok: true });
    expect(await (await fetch(`${h}/readyz`)).json()).toEqual({ ok: true });
    expect(await metric({ ...edge, url: h }, 'relaycast_edge_sockets_max')).toBeGreaterThan(0);
    const missing = await fetch(`${h}/v1/sessions`);
    expect([missing.status, (await missing.json()).error.code]).toEqual([404, 'not_found']);
    const post = await fetch(`${h}/healthz`, { method: 'POST' });
    expect([post.status, post.headers.get('allow'), (await post.json()).error.code]).toEqual([405, 'GET, HEAD', 'method_not_allowed']);

    // An open stream keeps the drain window open: the edge is alive but takes no new work.
    const s = await createSession(edge.url, key.key, { messages: [{ role: 'user', content: 'drain' }] });
    const stream = await getFresh(`${edge.url}${s.eventsUrl}`);
    expect(stream.status).toBe(200);
    edge.child.kill('SIGTERM');
    await waitFor(async () => (await fetch(`${h}/readyz`)).status === 503, 5_000, 'readiness to fail on the probe listener');
    const ready = await fetch(`${h}/readyz`);
    expect((await ready.json()).error.code).toBe('draining');
    expect((await fetch(`${h}/healthz`)).status).toBe(200);
    stream.req.destroy();
  });

  it('streams that came and went do not count against the socket cap (their sockets leave node\'s HTTP server)', async () => {
    // Cap 336 sockets: 400 streams opened and closed one after another must all be admitted.
    const edge = await startEdge({ HEADERS_TIMEOUT_MS: '3000' }, '300:400');
    expect(await metric(edge, 'relaycast_edge_sockets_max')).toBe(336);
    const s = await createSession(edge.url, key.key, { messages: [{ role: 'user', content: 'churn' }] });
    for (let i = 0; i < 400; i++) {
      const st = await getFresh(`${edge.url}${s.eventsUrl}`);
      expect(st.status, `stream ${i + 1}`).toBe(200);
      const closed = new Promise<void>((resolve) => st.req.socket?.once('close', () => resolve()) ?? resolve());
      st.req.destroy();
      await closed;
    }
    await waitFor(async () => (await metric(edge, 'relaycast_edge_open_connections')) === 0, 10_000, 'the streams to close');
    // The scrape's own connection, and perhaps a keep-alive one closing: nowhere near 400.
    expect(await metric(edge, 'relaycast_edge_sockets')).toBeLessThan(5);
    expect(await metric(edge, 'relaycast_edge_sockets_shed_total', { reason: 'refused' })).toBe(0);
  }, 120_000);
});
