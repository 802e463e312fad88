// Scenarios added for issue 18: what one subscribe costs the edge and Redis, and a peer's idle memory.
// Each takes the run's context (edge, Redis client, session factory) from run.mjs.
import http from 'node:http';
import { Clients, cpuOf, procStats, sleep } from './lib.mjs';
import { pssOf } from './peers.mjs';

/** Redis's own counters: reads of client sockets (a pipelined batch is one read: a round trip) and commands. */
async function redisCounters(redis) {
  const info = await redis.info('stats');
  const num = (k) => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  return { reads: num('total_reads_processed'), commands: num('total_commands_processed') };
}

async function openStreams(edgeUrl) {
  const metrics = await (await fetch(`${edgeUrl}/metrics`)).text();
  return Number(/^relaycast_edge_open_connections (\d+)/m.exec(metrics)?.[1] ?? NaN);
}

async function waitOpen(edgeUrl, target, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while ((await openStreams(edgeUrl)) !== target) {
    if (Date.now() > deadline) throw new Error(`edge never reached ${target} open streams`);
    await sleep(20);
  }
}

/** One subscribe, held until its first bytes arrive (headers and the opening comment). */
function subscribeOnce(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`subscribe: HTTP ${res.statusCode}`));
      res.once('data', () => resolve(req));
    });
    req.on('error', reject);
  });
}

/**
 * Subscribe + disconnect. Round trips: `seq` subscribes one after another (so none shares a pipeline with
 * another), then `seq` disconnects one after another, Redis's read counter around each phase, less the
 * counter's own INFO and the idle drift measured just before. CPU: a burst of `burst` subscribes from two
 * client processes, all closed again, edge and Redis CPU over the whole cycle divided by `burst`.
 */
export async function subscribeCost({ edge, redis, redisPid, relaySession, profile }, seq, burst) {
  const s = await relaySession();
  await s.publish();
  const url = edge.url + s.path;
  const base = await openStreams(edge.url);
  const d0 = await redisCounters(redis);
  await sleep(1000);
  const d1 = await redisCounters(redis);
  const driftPerMs = (d1.reads - d0.reads - 1) / 1000;
  const phase = async (fn) => {
    const a = await redisCounters(redis);
    const t = Date.now();
    await fn();
    const b = await redisCounters(redis);
    return { reads: b.reads - a.reads - 1 - driftPerMs * (Date.now() - t), commands: b.commands - a.commands - 1 };
  };
  const reqs = [];
  const sub = await phase(async () => { for (let i = 0; i < seq; i++) reqs.push(await subscribeOnce(url)); });
  const unsub = await phase(async () => {
    for (let i = 0; i < seq; i++) {
      reqs[i].destroy();
      await waitOpen(edge.url, base + seq - i - 1);
    }
  });
  const clients = new Clients(2);
  try {
    const stopProfile = profile ? await profile(edge.inspector, `subscribe-burst-${burst}`) : undefined;
    const cpu0 = procStats(edge.child.pid).cpu;
    const r0 = cpuOf([redisPid]);
    await clients.open(url, burst);
    await clients.close();
    await waitOpen(edge.url, base);
    const edgeMs = ((procStats(edge.child.pid).cpu - cpu0) * 1000) / burst;
    const redisMs = ((cpuOf([redisPid]) - r0) * 1000) / burst;
    await stopProfile?.();
    return {
      sequential: seq, burst,
      redisRoundTripsPerSubscribe: +Math.max(0, sub.reads / seq).toFixed(2),
      redisRoundTripsPerDisconnect: +Math.max(0, unsub.reads / seq).toFixed(2),
      redisCommandsPerSubscribe: +(sub.commands / seq).toFixed(2),
      redisCommandsPerDisconnect: +(unsub.commands / seq).toFixed(2),
      edgeCpuMsPerSubscribeDisconnect: +edgeMs.toFixed(3),
      redisCpuMsPerSubscribeDisconnect: +redisMs.toFixed(3),
    };
  } finally {
    await clients.close().catch(() => undefined);
    clients.kill();
  }
}

/** A peer's idle memory per SSE stream: proportional set size of all its processes, before and after `k` streams. */
export async function idlePeer(peer, k) {
  const clients = new Clients(2);
  try {
    const url = peer.url(`idle${process.pid}${Date.now()}`);
    await clients.open(url, 1);
    await sleep(500);
    const before = pssOf(peer.pids());
    for (let opened = 1; opened < k; opened += 1000) await clients.open(url, Math.min(1000, k - opened));
    await sleep(1000);
    const after = pssOf(peer.pids());
    const rep = await clients.report();
    const open = rep.conns - rep.closedEarly;
    return { system: peer.name, connections: open, notOpen: k - open, memBeforeMB: +(before / 2 ** 20).toFixed(1), memAfterMB: +(after / 2 ** 20).toFixed(1), kbPerConnection: +((after - before) / (open - 1) / 1024).toFixed(2) };
  } finally {
    await clients.close().catch(() => undefined);
    clients.kill();
  }
}
