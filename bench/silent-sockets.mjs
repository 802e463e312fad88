// node bench/silent-sockets.mjs [--total=100000] [--floods=2] [--concurrency=12000] [--health=1] [--flood-nice=0]
// Issue 17 item 2, at full size: `total` TCP connections that never send a byte, from two flood processes
// on 127.0.0.2-17, against one edge at its default settings, while two prober processes ask /healthz on a
// new connection every 20 ms, one on the public PORT, one on the probe listener's HEALTH_PORT (its own
// socket and thread). Reports both probes' latency (p50/p99/max, failures, connects that took a SYN
// retransmit), the accept rate, what the edge closed, the kernel's listen-queue overflows, and writes JSON to
// bench/results/. `--health=0` runs the edge without a probe listener. Run `npm run build` first.
import { spawn } from 'node:child_process';
import { cpus, loadavg, setPriority } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { freePort, killAll, percentiles, root, startRedis, startService } from './lib.mjs';

const arg = (name, dflt) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const total = arg('total', 100_000);
const floods = arg('floods', 2);
const concurrency = arg('concurrency', 12_000);
const withHealthPort = arg('health', 1) === 1;
// The flood processes' nice value: 19 stands for an attacker on machines of its own (it still costs this host
// the kernel's work for every connection); 0, the default, makes the flood compete with the edge for the CPU.
const floodNice = arg('flood-nice', 0);

async function metrics(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const pick = (re) => Number(re.exec(text)?.[1] ?? NaN);
  return {
    headersTimeouts: pick(/^relaycast_edge_headers_timeouts_total (\S+)$/m),
    evicted: pick(/^relaycast_edge_sockets_shed_total\{reason="evicted"\} (\S+)$/m),
    refused: pick(/^relaycast_edge_sockets_shed_total\{reason="refused"\} (\S+)$/m),
    maxSockets: pick(/^relaycast_edge_sockets_max (\S+)$/m),
    maxFds: pick(/^relaycast_edge_process_max_fds (\S+)$/m),
    rssMb: pick(/^relaycast_edge_process_resident_memory_bytes (\S+)$/m) / 2 ** 20,
    // The edge's own event-loop delay (prom-client's histogram since the edge started): tells the edge's
    // stalls apart from time the probe spent waiting for a CPU on a shared machine.
    loopLagP99Ms: pick(/^relaycast_edge_nodejs_eventloop_lag_p99_seconds (\S+)$/m) * 1000,
    loopLagMaxMs: pick(/^relaycast_edge_nodejs_eventloop_lag_max_seconds (\S+)$/m) * 1000,
  };
}

/** The kernel's count of SYNs or handshakes dropped because a listen queue was full (whole host). */
function listenOverflows() {
  const [names, values] = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:')).map((l) => l.split(/\s+/));
  return Number(values?.[names?.indexOf('ListenOverflows') ?? -1] ?? NaN);
}

function summary(probes) {
  const lat = percentiles(probes.filter((p) => p.status === 200).map((p) => p.ms));
  return { probes: probes.length, failed: probes.filter((p) => p.status !== 200).length, p50: lat.p50, p99: lat.p99, max: lat.max, over100ms: probes.filter((p) => p.ms > 100).length, over100msBesidesProberStalls: probes.filter((p) => p.ms - p.stalledMs > 100).length, synRetransmitted: probes.filter((p) => p.connectMs > 900).length };
}

/**
 * A prober process (test/helpers/probe.mjs) asking /healthz on `port` every 20 ms. It stands for a load
 * balancer, which has CPUs of its own: it runs at raised priority where allowed (root) so that its waiting for
 * one of a shared machine's CPUs is not counted against the edge; its own loop delay is reported either way.
 */
function startProber(port) {
  const child = spawn(process.execPath, [`${root}test/helpers/probe.mjs`, JSON.stringify({ url: `http://127.0.0.1:${port}/healthz`, everyMs: 20 })], { stdio: ['ignore', 'pipe', 'inherit'] });
  let raised = true;
  try {
    setPriority(child.pid, -10);
  } catch {
    raised = false;
  }
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
      return { ...JSON.parse(out), raised };
    },
  };
}

try {
  const redisUrl = await startRedis();
  const port = await freePort();
  const healthPort = withHealthPort ? await freePort() : undefined;
  await startService('edge', { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: 'silent', PORT: String(port), NODE_ENV: 'development', ...(healthPort ? { HEALTH_PORT: String(healthPort) } : {}) }, port);
  const before = await metrics(port);
  const overflowsBefore = listenOverflows();
  const runs = [];
  for (let f = 0; f < floods; f++) {
    const from = Array.from({ length: 8 }, (_, i) => `127.0.0.${2 + f * 8 + i}`);
    const child = spawn(process.execPath, [`${root}test/helpers/silent-flood.mjs`, JSON.stringify({ port, total: Math.ceil(total / floods), concurrency, from, maxMs: 300_000 })], { stdio: ['ignore', 'pipe', process.env.BENCH_VERBOSE ? 'inherit' : 'ignore'] });
    if (floodNice) setPriority(child.pid, floodNice);
    runs.push(new Promise((resolve) => createInterface({ input: child.stdout }).once('line', (l) => resolve(JSON.parse(l)))));
  }
  const t0 = Date.now();
  const probers = [startProber(port), healthPort && startProber(healthPort)];
  const flooded = await Promise.all(runs);
  const [publicProbes, healthProbes] = await Promise.all(probers.map((p) => p && p.stop()));
  const after = await metrics(port);
  const connected = flooded.reduce((n, f) => n + f.connected, 0);
  const result = {
    scenario: 'silent-sockets',
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, loadavg: loadavg() },
    total,
    floodNice,
    floods: flooded,
    seconds: (Date.now() - t0) / 1000,
    acceptsPerSecond: Math.round(connected / Math.max(...flooded.map((f) => f.ms / 1000))),
    listenOverflows: listenOverflows() - overflowsBefore,
    edge: { ...after, headersTimeouts: after.headersTimeouts - before.headersTimeouts },
    healthz: { ...summary(publicProbes.probes), proberLoopDelay: publicProbes.ownDelay, proberPriorityRaised: publicProbes.raised },
    healthPort: healthProbes ? { ...summary(healthProbes.probes), proberLoopDelay: healthProbes.ownDelay, proberPriorityRaised: healthProbes.raised } : null,
  };
  console.log(JSON.stringify(result, null, 2));
  mkdirSync(`${root}bench/results`, { recursive: true });
  writeFileSync(`${root}bench/results/silent-sockets-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, JSON.stringify(result, null, 2));
} finally {
  await killAll();
}
