// 100,000 concurrent subscribers on one machine: `sessions` sessions x `perSession` subscribers, one event per
// second per session, across `edges` edge processes behind the run's one Redis. Each process here may open at
// most 20,000 files, so the load generator is `procs` processes, each with its own loopback source address
// (127.0.0.2, .3, ...) and bare-socket clients (bench/client.mjs raw mode), cheaper than the edges it measures.
import { readFileSync } from 'node:fs';
import { inspect } from './inspector.mjs';
import { Clients, cpuOf, freePort, now, percentiles, procStats, rssOf, sleep, startService } from './lib.mjs';

/** The kernel's TCP memory in use, machine-wide (pages of 4 KiB): socket buffers, not in any process's RSS. */
const tcpPages = () => Number(/^TCP:.* mem (\d+)/m.exec(readFileSync('/proc/net/sockstat', 'utf8'))?.[1] ?? NaN);

export async function scale(ctx, { sessions, perSession, edges, procs, seconds }) {
  const { env, relaySession } = ctx;
  const edgeProcs = [];
  for (let i = 0; i < edges; i++) {
    const port = await freePort();
    // With --profile each edge has an inspector, for its memory breakdown and a CPU profile of the first.
    const inspector = ctx.profile ? `127.0.0.1:${await freePort()}` : undefined;
    // The edge's own connection cap (MAX_CONNECTIONS) is left at its default on purpose: past it, edge_full.
    const child = await startService('edge', { ...env, PORT: String(port) }, port, inspector ? [`--inspect=${inspector}`] : []);
    edgeProcs.push({ child, url: `http://127.0.0.1:${port}`, inspector });
  }
  const clients = new Clients(procs);
  try {
    const ss = [];
    for (let i = 0; i < sessions; i++) ss.push(await relaySession());
    // Each session's subscribers are spread over every client process; the share from process p lands on
    // edge (session + p) mod edges, so every edge serves every session, as behind a load balancer.
    const targets = Array.from({ length: procs }, () => []);
    ss.forEach((s, i) => {
      for (let p = 0; p < procs; p++) {
        const n = Math.floor(perSession / procs) + (p < perSession % procs ? 1 : 0);
        if (n) targets[p].push({ url: edgeProcs[(i + p) % edges].url + s.path, n });
      }
    });
    const total = sessions * perSession;
    const tcp0 = tcpPages();
    const t0 = now();
    await Promise.all(targets.map((t, p) => clients.openOn(p, null, 0, { targets: t, raw: true, maxPending: 256, localAddress: `127.0.0.${2 + p}` })));
    const openMs = Math.round(now() - t0);
    const opened = await clients.report();
    const accepted = opened.statuses['200'] ?? 0;
    console.error(`    scale: ${accepted}/${total} accepted in ${openMs} ms ${JSON.stringify(opened.statuses)} ${JSON.stringify(opened.errors)}`);
    await Promise.all(ss.map((s) => s.publish()));
    const warm = await clients.waitComplete(total, 1, 120_000);
    await clients.resetSamples();
    const edgePids = edgeProcs.map((e) => e.child.pid);
    const cpuEdges0 = cpuOf(edgePids);
    const cpuClients0 = cpuOf(clients.pids);
    const cpuRedis0 = cpuOf([ctx.redisPid]);
    const stopProfile = ctx.profile ? await ctx.profile(edgeProcs[0].inspector, `scale-edge0-${total}`) : undefined;
    const tp = now();
    // One event per session per second, spread evenly over the second rather than in one burst.
    const slice = 10;
    const perSlice = Math.ceil(sessions / (1000 / slice));
    for (let r = 0; r < seconds; r++) {
      for (let k = 0; k * perSlice < sessions; k++) {
        const batch = ss.slice(k * perSlice, (k + 1) * perSlice);
        void Promise.all(batch.map((s) => s.publish()));
        await sleep(Math.max(0, tp + r * 1000 + (k + 1) * slice - now()));
      }
    }
    const expect = seconds; // after the warm-up event, which resetSamples set aside
    const done = await clients.waitComplete(total, expect, 120_000);
    const secs = (now() - tp) / 1000;
    const cpuEdges = cpuOf(edgePids) - cpuEdges0;
    const cpuClients = cpuOf(clients.pids) - cpuClients0;
    const cpuRedis = cpuOf([ctx.redisPid]) - cpuRedis0;
    const edgeRss = rssOf(edgePids);
    await stopProfile?.();
    const memory = ctx.profile ? await memoryBreakdown(edgeProcs, tcp0) : undefined;
    const rep = await clients.report({ withLatencies: true, expect });
    const lat = percentiles(rep.latencies);
    return {
      sessions, perSession, edges, clientProcs: procs, eventsPerSessionPerSec: 1, seconds,
      subscribers: total, accepted, refused: total - accepted, statuses: JSON.stringify(rep.statuses), errors: JSON.stringify(rep.errors), openMs,
      warmComplete: warm.complete,
      expectedDeliveries: accepted * expect, delivered: rep.deltasSinceReset, lost: rep.lost, duplicated: rep.duplicated,
      complete: `${rep.complete}/${accepted}`,
      p50ms: +lat.p50.toFixed(1), p99ms: +lat.p99.toFixed(1), maxms: +lat.max.toFixed(1),
      edgeRssTotalMB: +(edgeRss / 2 ** 20).toFixed(1),
      edgeCpuPct: Math.round((cpuEdges / secs) * 100), redisCpuPct: Math.round((cpuRedis / secs) * 100),
      loadGenCpuPct: Math.round((cpuClients / secs) * 100),
      ...(done.timedOut ? { timedOut: true } : {}),
      ...(memory ? { memory } : {}),
    };
  } finally {
    await clients.close().catch(() => undefined);
    clients.kill();
    for (const e of edgeProcs) e.child.kill('SIGKILL');
  }
}

/**
 * Where each edge's memory is (--profile): RSS and process.memoryUsage() as the run left them, then after
 * full collections (what is live, not garbage waiting for a collection), and the kernel's TCP buffer memory
 * the run added, machine-wide (clients' sockets included).
 */
async function memoryBreakdown(edgeProcs, tcp0) {
  const mb = (b) => +(b / 2 ** 20).toFixed(1);
  const perEdge = [];
  for (const e of edgeProcs) {
    const probe = await inspect(e.inspector);
    try {
      const before = JSON.parse((await probe.evaluate('JSON.stringify(process.memoryUsage())')));
      const after = await probe.memoryAfterGc();
      const open = Number(await probe.evaluate('String(process._getActiveHandles().length)'));
      perEdge.push({
        handles: open,
        rssMB: mb(before.rss), heapUsedMB: mb(before.heapUsed), heapTotalMB: mb(before.heapTotal), externalMB: mb(before.external), arrayBuffersMB: mb(before.arrayBuffers),
        afterGc: { rssMB: mb(after.rss), heapUsedMB: mb(after.heapUsed), heapTotalMB: mb(after.heapTotal), externalMB: mb(after.external) },
        rssNowMB: mb(procStats(e.child.pid).rss),
      });
    } finally {
      probe.close();
    }
  }
  return { perEdge, tcpKernelMB: mb((tcpPages() - tcp0) * 4096) };
}
