// A separate process that asks `url` (a health check) on a new connection every `everyMs` until it gets
// SIGTERM, then prints one JSON line: each probe's status, body, total and connect milliseconds (a connect
// near 1 s or 3 s is a SYN the server's full accept queue dropped and the kernel sent again), and how long
// this process itself was not running during each probe (`stalledMs`: a 5 ms ticker's lateness inside the
// probe's inFlight), which tells a probe that waited for a CPU on a busy machine apart from a slow server.
// Usage: node probe.mjs '{"url":"http://127.0.0.1:8081/healthz","everyMs":20}'
import { request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const o = JSON.parse(process.argv[2] ?? '{}');
const probes = [];
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
let stopping = false;

// Lateness of a 5 ms ticker, summed over the in-flight probe's inFlight only.
const TICK = 5;
let lastTick = performance.now();
let inFlight = null;
const late = (t) => (inFlight ? Math.max(0, t - Math.max(lastTick + TICK, inFlight.t0)) : 0);
setInterval(() => {
  const t = performance.now();
  if (inFlight) inFlight.stalled += late(t);
  lastTick = t;
}, TICK);

function probe() {
  const t0 = performance.now();
  let connectMs = null;
  inFlight = { t0, stalled: 0 };
  const done = (r) => {
    const t = performance.now();
    r.stalledMs = inFlight.stalled + late(t);
    inFlight = null;
    return r;
  };
  return new Promise((resolve) => {
    const req = request(o.url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(done({ status: res.statusCode, ms: performance.now() - t0, connectMs, body })));
    });
    req.on('socket', (s) => s.once('connect', () => (connectMs = performance.now() - t0)));
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(done({ status: 0, ms: performance.now() - t0, connectMs, body: e.code ?? e.message })));
    req.end();
  });
}

process.on('SIGTERM', () => (stopping = true));
// The ticker must not keep the process alive once the last probe is printed.
while (!stopping) {
  probes.push(await probe());
  await new Promise((r) => setTimeout(r, o.everyMs ?? 20));
}
process.stdout.write(`${JSON.stringify({ probes, ownDelay: { p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 } })}\n`, () => process.exit(0));
