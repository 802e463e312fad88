// Process plumbing for the benchmark: free ports, child processes, /proc sampling, load clients.
import { fork, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.timeOrigin + performance.now();
const children = new Set();

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} not listening after ${timeoutMs} ms`);
    await sleep(50);
  }
}

export function track(child) {
  children.add(child);
  // A send to a child that died is an 'error' event; unheard, it would end the whole run. The caller's own
  // wait for that child's answer fails instead.
  child.on('error', (e) => console.error(`    child ${child.pid}: ${e.message}`));
  child.on('exit', () => children.delete(child));
  return child;
}

export async function killAll() {
  // SIGINT first so a profiled service can write its profile; SIGKILL whatever is left.
  const exited = [...children].map((c) => new Promise((r) => { c.once('exit', r); c.kill('SIGINT'); }));
  await Promise.race([Promise.all(exited), sleep(3000)]);
  for (const c of children) c.kill('SIGKILL');
}

export async function startRedis() {
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('the benchmark needs redis-server on PATH (apt-get install redis-server)');
  const port = await freePort();
  track(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxclients', '20000'], { stdio: 'ignore' }));
  await waitForPort(port);
  return `redis://127.0.0.1:${port}`;
}

/** Starts a Relaycast service (built JS) as its own process; resolves once it listens. */
export async function startService(name, env, listenPort, nodeArgs = []) {
  // BENCH_PROFILE=edge writes a CPU profile of that service to bench/results/profiles/ when it exits.
  const prof = process.env.BENCH_PROFILE === name ? ['--cpu-prof', `--cpu-prof-dir=${root}bench/results/profiles`] : [];
  const child = track(spawn(process.execPath, [...prof, ...nodeArgs, `services/${name}/dist/main.js`], { cwd: root, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'inherit'] }));
  if (listenPort) await waitForPort(listenPort);
  return child;
}

/** A comparison server (bench/servers/*.mjs) as its own process; resolves with it and its port. */
export async function startServer(file, args = [], execArgv = []) {
  const child = track(fork(fileURLToPath(new URL(`servers/${file}`, import.meta.url)), args, { execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
  const { port } = await once(child, 'listening');
  return { child, port };
}

export function once(child, cmd) {
  return new Promise((resolve, reject) => {
    const onExit = (code) => {
      child.off('message', onMsg);
      reject(new Error(`process exited (${code}) while waiting for ${cmd}`));
    };
    const onMsg = (m) => {
      if (m.cmd === cmd) {
        child.off('message', onMsg);
        child.off('exit', onExit);
        resolve(m);
      }
    };
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

/** CPU seconds (user+system) and RSS bytes of a process, from /proc. */
export function procStats(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  return { cpu: ticks / 100, rss: rssKb * 1024 };
}

/** CPU seconds of several processes together (one that has exited counts nothing). */
export function cpuOf(pids) {
  let total = 0;
  for (const pid of pids) {
    try { total += procStats(pid).cpu; } catch { /* exited */ }
  }
  return total;
}

/** RSS bytes of several processes together. */
export function rssOf(pids) {
  let total = 0;
  for (const pid of pids) {
    try { total += procStats(pid).rss; } catch { /* exited */ }
  }
  return total;
}

/** Samples the RSS of one process (or several, summed) until stopped; returns the peak. */
export function sampleRss(pid, everyMs = 50) {
  const pids = [pid].flat();
  let peak = rssOf(pids);
  const t = setInterval(() => { peak = Math.max(peak, rssOf(pids)); }, everyMs);
  return () => { clearInterval(t); return Math.max(peak, rssOf(pids)); };
}

/** Load generators: `count` client processes sharing the connections. */
export class Clients {
  constructor(count = 2) {
    this.procs = Array.from({ length: count }, () => track(fork(fileURLToPath(new URL('client.mjs', import.meta.url)), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })));
  }
  async open(url, n, opts = {}) {
    const per = this.procs.map((_, i) => Math.floor(n / this.procs.length) + (i < n % this.procs.length ? 1 : 0));
    await Promise.all(this.procs.map((p, i) => (per[i] ? (p.send({ cmd: 'open', url, n: per[i], ...opts }), once(p, 'opened')) : undefined)));
  }
  /** Opens `n` connections from process `i` alone (the scale scenario gives each process its own source address). */
  async openOn(i, url, n, opts = {}) {
    const p = this.procs[i];
    p.send({ cmd: 'open', url, n, ...opts });
    return once(p, 'opened');
  }
  /** Each process drops the latency samples it holds, so warm-up samples go before the arrays are joined. */
  async resetSamples() {
    await Promise.all(this.procs.map((p) => (p.send({ cmd: 'resetSamples' }), once(p, 'resetSamples'))));
  }
  get pids() {
    return this.procs.map((p) => p.pid);
  }
  async progress(expect, opts = {}) {
    const rs = await Promise.all(this.procs.map((p) => (p.send({ cmd: 'progress', expect, ...opts }), once(p, 'progress'))));
    return { complete: rs.reduce((a, r) => a + r.complete, 0), closedEarly: rs.reduce((a, r) => a + r.closedEarly, 0) };
  }
  /** Waits until `total` connections each hold `expect` deltas (or they closed, or time ran out). */
  async waitComplete(total, expect, timeoutMs, opts = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = await this.progress(expect, opts);
      if (p.complete + p.closedEarly >= total) return { ...p, timedOut: false, at: now() };
      if (Date.now() > deadline) return { ...p, timedOut: true, at: now() };
      await sleep(20);
    }
  }
  async report(opts = {}) {
    const rs = await Promise.all(this.procs.map((p) => (p.send({ cmd: 'report', ...opts }), once(p, 'report'))));
    return {
      conns: rs.reduce((a, r) => a + r.conns, 0),
      deltas: rs.reduce((a, r) => a + r.deltas, 0),
      deltasSinceReset: rs.reduce((a, r) => a + r.deltasSinceReset, 0),
      closedEarly: rs.reduce((a, r) => a + r.closedEarly, 0),
      errors: sumCounts(rs.map((r) => r.errors)),
      nonContiguous: rs.reduce((a, r) => a + r.nonContiguous, 0),
      duplicated: opts.expect ? rs.reduce((a, r) => a + r.duplicated, 0) : undefined,
      lost: opts.expect ? rs.reduce((a, r) => a + r.lost, 0) : undefined,
      statuses: sumCounts(rs.map((r) => r.statuses)),
      complete: opts.expect ? rs.reduce((a, r) => a + r.complete, 0) : undefined,
      lastIds: opts.withLastIds ? rs.flatMap((r) => r.lastIds) : undefined,
      latencies: opts.withLatencies ? rs.flatMap((r) => r.latencies) : undefined,
    };
  }
  async close() {
    await Promise.all(this.procs.map((p) => (p.send({ cmd: 'close' }), once(p, 'closed'))));
  }
  kill() {
    for (const p of this.procs) p.kill('SIGKILL');
  }
}

function sumCounts(maps) {
  const out = {};
  for (const m of maps) for (const [k, v] of Object.entries(m ?? {})) out[k] = (out[k] ?? 0) + v;
  return out;
}

export function percentiles(xs) {
  if (!xs.length) return { p50: NaN, p99: NaN, max: NaN };
  const s = Float64Array.from(xs).sort();
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1] };
}

/** A Redis Cluster of `masters` masters (no replicas: this measures throughput, not failover). */
export async function startCluster(masters) {
  const { mkdtempSync, mkdirSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(`${tmpdir()}/rc-bench-cluster-`);
  const ports = [];
  for (let i = 0; i < masters; i++) {
    const port = await freePort();
    const bus = await freePort();
    mkdirSync(`${dir}/${port}`);
    track(spawn('redis-server', ['--port', String(port), '--cluster-port', String(bus), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-announce-ip', '127.0.0.1', '--cluster-config-file', `${dir}/${port}/nodes.conf`, '--dir', `${dir}/${port}`, '--save', '', '--appendonly', 'no', '--maxclients', '20000'], { stdio: 'ignore' }));
    ports.push(port);
  }
  for (const p of ports) await waitForPort(p);
  // `redis-cli --cluster create` wants three masters or more; a one-shard cluster gets every slot directly.
  const created = masters === 1
    ? spawnSync('redis-cli', ['-p', String(ports[0]), 'cluster', 'addslotsrange', '0', '16383'], { encoding: 'utf8' })
    : spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
  if (created.status !== 0) throw new Error(`cluster create failed: ${created.stdout}${created.stderr}`);
  for (const p of ports) {
    for (let i = 0; ; i++) {
      const info = spawnSync('redis-cli', ['-p', String(p), 'cluster', 'info'], { encoding: 'utf8' }).stdout;
      if (/cluster_state:ok/.test(info)) break;
      if (i > 200) throw new Error('cluster never reached state ok');
      await sleep(50);
    }
  }
  return `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
}
