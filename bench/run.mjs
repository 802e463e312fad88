// npm run bench [-- --quick]: Relaycast's edge against the bound (a batched raw-socket Node server), nginx-nchan
// and Pushpin when installed, a naive XREAD-per-subscriber relay and Vercel's resumable-stream, on the same
// machine, sockets and Redis. Prints a markdown table with issue 18's goals and writes JSON to bench/results/.
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { newSessionId } from '../packages/protocol/dist/index.js';
import { SessionStore, createRedis, keySpace, parseRedisTarget } from '../packages/store/dist/index.js';
import { apiKeyEntry, newApiKey } from '../services/edge/dist/api-keys.js';
import { encodeFrame } from '../services/edge/dist/sse.js';
import { TokenSigner } from '../services/edge/dist/tokens.js';
import { inspect } from './inspector.mjs';
import { cancelLatency } from './cancel.mjs';
import { publishScenario } from './publish-scenario.mjs';
import { Clients, cpuOf, freePort, killAll, now, percentiles, procStats, root, sampleRss, sleep, startCluster, startRedis, startServer, startService } from './lib.mjs';
import { goals } from './goals.mjs';
import { nchanMissing, pushpinMissing, startNchan, startPushpin } from './peers.mjs';
import { scale } from './scale.mjs';
import { idlePeer, subscribeCost } from './scenarios.mjs';
import { peerVersions } from './versions.mjs';

const quick = process.argv.includes('--quick');
const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3).split(',');
// Narrow a run while investigating: --only=fanout,redis --systems=relaycast --subs=1000 --modes=max
// (--only takes: fanout, redis, idle, subscribe, backlog, storm (resume = both), slow, sessions, scale,
// shards, coalesce; --scale=SESSIONS,PER_SESSION,EDGES,PROCS,SECONDS sizes the scale scenario.)
const only = arg('only');
const onlySystems = arg('systems');
const onlySubs = arg('subs')?.map(Number);
const onlyModes = arg('modes');
const size = (q, full) => (quick ? q : full);
const results = [];
const setup = {
  machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, platform: process.platform },
  mode: quick ? 'quick' : 'full',
  clients: '2 load-generator processes over loopback HTTP (the scale scenario: several, raw sockets, one source address each)',
};
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const out = `${root}bench/results/${stamp}${quick ? '-quick' : ''}.json`;
mkdirSync(`${root}bench/results`, { recursive: true });
const record = (scenario, row) => {
  results.push({ scenario, ...row });
  console.error(`  ${scenario}: ${JSON.stringify(row)}`);
  // Written after every row, so a run cut short (or a scenario that hangs) still leaves what it measured.
  writeFileSync(out, JSON.stringify({ setup, partial: true, results }, null, 2));
};

process.on('SIGINT', () => void killAll().then(() => process.exit(130)));
process.on('uncaughtException', (e) => { console.error(e); void killAll().then(() => process.exit(1)); });

// Every edge shares this secret, so tokens for sessions made directly in Redis are minted here exactly as an
// edge would. Limits are lifted: every bench client is one address and most scenarios watch one session.
const TENANT = 'bench';
const tokenSecret = randomBytes(32).toString('base64url');
const signer = new TokenSigner([tokenSecret]);
const apiKey = newApiKey();
const AUTH_ENV = {
  TOKEN_SECRET: tokenSecret,
  API_KEYS: JSON.stringify([apiKeyEntry(apiKey, 'bench', TENANT)]),
  SESSIONS_PER_MINUTE_PER_KEY: '1000000',
  MAX_RUNNING_PER_KEY: '1000000',
  MAX_CONNECTIONS_PER_IP: '1000000',
  MAX_CONNECTIONS_PER_SESSION: '1000000',
};
const auth = { authorization: `Bearer ${apiKey}` };
const tokenQuery = (id) => `?token=${signer.mint(id, TENANT, 24 * 3_600_000).token}`;

const redisUrl = await startRedis();
const prefix = 'bench';
const redis = new Redis(redisUrl);
const redisPid = Number(/^process_id:(\d+)/m.exec(await redis.info('server'))[1]);
const store = new SessionStore(redis, keySpace(prefix), { maxLen: 1_000_000, retentionSeconds: 3600, openTtlSeconds: 3600 });

async function startEdge(extra = {}) {
  const port = await freePort();
  // The inspector lets the idle scenario collect garbage before it reads memory; unattached, it costs nothing.
  const inspector = `127.0.0.1:${await freePort()}`;
  const child = await startService('edge', { ...AUTH_ENV, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, PORT: String(port), MAX_CONNECTIONS: '19000', ...extra }, port, [`--inspect=${inspector}`]);
  return { child, url: `http://127.0.0.1:${port}`, inspector };
}
const edge = await startEdge();
// The mock model and ingest run too, for the many-sessions scenario's end-to-end path.
const mockPort = await freePort();
const _mock = await startService('mock-model', { MOCK_PORT: String(mockPort) }, mockPort);
const _ingest = await startService('ingest', { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, MOCK_MODEL_URL: `http://127.0.0.1:${mockPort}`, METRICS_PORT: '0' });

/** A Relaycast session published to directly (as ingest would), so publish time is known exactly. */
async function relaySession() {
  const id = newSessionId();
  await store.create(id, { model: 'bench', createdAt: Date.now(), tenant: TENANT });
  const { attempt } = await store.begin(id);
  let seq = 0;
  return {
    id,
    path: `/v1/sessions/${id}/events${tokenQuery(id)}`,
    publish: (pad = '', text = `${now()}${pad}`) => store.append(id, attempt, ++seq, [{ type: 'delta', text }]),
    publishMany: (n) => store.append(id, attempt, (seq += n) - n + 1, Array.from({ length: n }, () => ({ type: 'delta', text: `${now()}` }))),
    get seq() { return seq; },
  };
}

// Peers are started on first use and kept for the run; an absent one is skipped with its reason.
const peerMissing = { nchan: nchanMissing(), pushpin: pushpinMissing() };
const peers = new Map();
async function peerFor(name) {
  if (!peers.has(name)) peers.set(name, await (name === 'nchan' ? startNchan() : startPushpin()));
  return peers.get(name);
}
const skipped = Object.entries(peerMissing).filter(([, why]) => why).map(([name, why]) => `${name}: ${why}`);
setup.versions = peerVersions();
setup.skippedPeers = skipped;

/** Same frames for the comparison servers. */
function frameFor(seq, pad = '', text = `${now()}${pad}`) {
  return encodeFrame({ id: String(seq), event: 'delta', data: JSON.stringify({ text }) }).toString();
}

// --profile: a CPU profile of the edge (or the bound) over each fan-out's measured phase only, written to
// bench/results/profiles/ (summarise one with bench/profile.mjs).
const profilePhase = process.argv.includes('--profile');
async function startPhaseProfile(address, name) {
  const probe = await inspect(address);
  const stop = await probe.startProfile();
  return async () => {
    const dir = `${root}bench/results/profiles`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/${name}-${stamp}.cpuprofile`, JSON.stringify(await stop()));
    probe.close();
  };
}

async function fanout(system, subs, mode) {
  const clients = new Clients(2);
  let server, url, publish, pid, inspector;
  let seq = 0;
  if (system === 'relaycast') {
    const s = await relaySession();
    url = edge.url + s.path;
    publish = (text) => s.publish('', text);
    pid = edge.child.pid;
    inspector = edge.inspector;
  } else if (system === 'bound') {
    inspector = profilePhase ? `127.0.0.1:${await freePort()}` : undefined;
    server = await startServer('bound.mjs', [], inspector ? [`--inspect=${inspector}`] : []);
    url = `http://127.0.0.1:${server.port}/`;
    // Frames encoded here once; everything published in one tick travels as one IPC message.
    let queued = [];
    publish = async (text) => {
      if (!queued.length) queueMicrotask(() => { server.child.send({ cmd: 'publish', frames: queued }); queued = []; });
      queued.push(frameFor(++seq, '', text));
    };
    pid = server.child.pid;
  } else if (system === 'nchan' || system === 'pushpin') {
    const peer = await peerFor(system);
    const channel = `fan${newSessionId()}`;
    url = peer.url(channel);
    publish = (text = `${now()}`) => peer.publish(channel, JSON.stringify({ text }), ++seq);
    pid = peer.pids;
  } else if (system === 'naive') {
    const key = `naive:${newSessionId()}`;
    server = await startServer('naive.mjs', [redisUrl, key]);
    url = `http://127.0.0.1:${server.port}/`;
    publish = (text = `${now()}`) => redis.xadd(key, '*', 'event', 'delta', 'data', JSON.stringify({ text }));
    pid = server.child.pid;
  } else {
    server = await startServer('rstream.mjs', [redisUrl]);
    url = `http://127.0.0.1:${server.port}/`;
    publish = async (text) => server.child.send({ cmd: 'publish', frame: frameFor(++seq, '', text) });
    pid = server.child.pid;
  }
  // Relaycast's CPU and memory count Redis's too; a peer's count all of its processes.
  // A peer's process list is read once its subscribers are in (nginx forks its workers after starting).
  const pidsNow = () => [...[typeof pid === 'function' ? pid() : pid].flat(), ...(system === 'relaycast' || system === 'naive' || system === 'rstream' ? [redisPid] : [])];
  try {
    // Pushpin answers 502 to part of a burst of subscribes (its proxy's requests to the origin fail under
    // the burst), so its subscribers connect 100 at a time; the others take the burst as before.
    const batch = system === 'pushpin' ? 100 : subs;
    for (let opened = 0; opened < subs; opened += batch) await clients.open(url, Math.min(batch, subs - opened));
    // Warm-up events until every subscriber has one: a subscriber is live once it has. Pushpin registers a
    // held stream's channel after answering, so a single early event can miss some (it keeps no history).
    // Their text starts with 'w': the clients count them apart, so one arriving late is neither a delivery
    // nor a latency sample of the measured run.
    let warm;
    const warmDeadline = Date.now() + 60_000;
    let wait = 1000;
    do {
      await publish(`w${now()}`);
      warm = await clients.waitComplete(subs, 1, wait, { warm: true });
      wait *= 2;
    } while (warm.timedOut && Date.now() < warmDeadline);
    if (warm.timedOut) {
      const r = await clients.report();
      return { system, subs, mode, error: `only ${warm.complete}/${subs} live after 60 s (statuses ${JSON.stringify(r.statuses)}, errors ${JSON.stringify(r.errors)}, deltas ${r.deltas})` };
    }
    const n = mode === 'max' ? size(500, subs > 1000 ? 1000 : 2000) : size(150, 500);
    // Each client process drops its own warm-up samples before the arrays are joined.
    await clients.resetSamples();
    const pids = pidsNow();
    const cpu0 = cpuOf(pids);
    const serverCpu0 = cpuOf(pids.filter((p) => p !== redisPid));
    const peak = sampleRss(pids.filter((p) => p !== redisPid));
    const stopProfile = profilePhase && inspector ? await startPhaseProfile(inspector, `fanout-${system}-${subs}-${mode === 'max' ? 'max' : 'paced'}`) : undefined;
    const t0 = now();
    // As fast as it can: every publisher fires without waiting for the previous one (ioredis pipelines
    // the appends in order on one connection, as IPC does for the bare servers).
    if (mode === 'max') await Promise.all(Array.from({ length: n }, () => publish()));
    else {
      // On schedule, not after the previous publish returns: nchan answers a publish only after handing it
      // to its subscribers (about 100 ms at 1,000 here), which would otherwise slow its rate below 50/s.
      const sent = [];
      for (let i = 0; i < n; i++) {
        sent.push(publish());
        await sleep(Math.max(0, t0 + (i + 1) * 20 - now()));
      }
      await Promise.all(sent);
    }
    const done = await clients.waitComplete(subs, n, size(30_000, 90_000));
    const elapsed = (done.at - t0) / 1000;
    const cpu1 = cpuOf(pids);
    const serverCpu1 = cpuOf(pids.filter((p) => p !== redisPid));
    await stopProfile?.();
    const rep = await clients.report({ withLatencies: true, expect: n });
    const lat = percentiles(rep.latencies);
    return {
      system, subs, mode, events: n,
      deliveredPerSec: Math.round(rep.deltasSinceReset / elapsed),
      complete: `${rep.complete}/${subs}`,
      p50ms: +lat.p50.toFixed(2), p99ms: +lat.p99.toFixed(2), maxms: +lat.max.toFixed(2),
      cpuPct: Math.round(((cpu1 - cpu0) / elapsed) * 100),
      // CPU seconds are steadier than wall time on a shared machine: the server's own, and Redis's apart.
      serverCpuMs: Math.round((serverCpu1 - serverCpu0) * 1000),
      redisCpuMs: Math.round((cpu1 - cpu0 - (serverCpu1 - serverCpu0)) * 1000),
      rssMB: +(peak() / 2 ** 20).toFixed(1),
      disconnects: rep.closedEarly,
      ...(done.timedOut ? { timedOut: true } : {}),
    };
  } finally {
    await clients.close().catch(() => undefined);
    clients.kill();
    server?.child.kill('SIGKILL');
  }
}

async function commandCount() {
  const info = await redis.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/calls=(\d+)/g)) total += Number(m[1]);
  return total;
}

async function redisCost(subs) {
  const clients = new Clients(2);
  try {
    const s = await relaySession();
    if (subs) {
      await clients.open(edge.url + s.path, subs);
      await s.publish();
      await clients.waitComplete(subs, 1, 60_000);
    }
    const n = 500;
    const c0 = await commandCount();
    for (let i = 0; i < n; i++) await s.publish();
    if (subs) await clients.waitComplete(subs, n + 1, 60_000);
    const c1 = await commandCount();
    const list = await redis.client('LIST');
    const edgeConns = String(list).split('\n').filter((l) => / name=edge-/.test(l)).length;
    return { subs, commandsPerEvent: +((c1 - c0 - 1) / n).toFixed(2), edgeRedisConnections: edgeConns };
  } finally {
    await clients.close().catch(() => undefined);
    clients.kill();
  }
}

async function idle(k) {
  const clients = new Clients(2);
  // Measured after full collections, so the figures are what the connections hold, not garbage not yet
  // collected (the scenarios before this one leave hundreds of MB of it). The inspector session is open
  // only while measuring: attached, it slows the edge enough that a burst of connects overflows its backlog.
  const measure = async (snapshotName) => {
    const probe = await inspect(edge.inspector);
    try {
      const memory = await probe.memoryAfterGc();
      // Per stream the edge holds open: a connection refused or reset would otherwise dilute the figure.
      const metrics = await (await fetch(`${edge.url}/metrics`)).text();
      const open = Number(/^relaycast_edge_open_connections (\d+)/m.exec(metrics)?.[1] ?? NaN);
      if (process.env.BENCH_HEAP_SNAPSHOTS) writeSnapshot(snapshotName, await probe.heapSnapshot());
      // Relaycast's figure counts Redis too: whatever the streams make it hold (slots, counters, buffers).
      return { ...memory, open, redisRss: procStats(redisPid).rss };
    } finally {
      probe.close();
    }
  };
  try {
    const s = await relaySession();
    await clients.open(edge.url + s.path, 1);
    const before = await measure('idle-before');
    // In batches: one burst of 10,000 connects right after a full collection overflows the listen backlog.
    for (let opened = 1; opened < k; opened += 1000) await clients.open(edge.url + s.path, Math.min(1000, k - opened));
    await sleep(1000);
    const after = await measure('idle-after');
    const added = after.open - before.open;
    const perConn = (a, b) => +((b - a) / added / 1024).toFixed(2);
    const edgeKb = perConn(before.rss, after.rss);
    const redisKb = perConn(before.redisRss, after.redisRss);
    return { system: 'relaycast', connections: after.open, notOpen: k - after.open, rssBeforeMB: +(before.rss / 2 ** 20).toFixed(1), rssAfterMB: +(after.rss / 2 ** 20).toFixed(1), kbPerConnection: edgeKb, jsHeapKbPerConnection: perConn(before.heapUsed, after.heapUsed), redisKbPerConnection: redisKb, kbPerConnectionWithRedis: +(edgeKb + redisKb).toFixed(2) };
  } finally {
    await clients.close().catch(() => undefined);
    clients.kill();
  }
}

/** BENCH_HEAP_SNAPSHOTS=1: the idle scenario's snapshots, for a diff in Chrome DevTools' Comparison view. */
function writeSnapshot(name, text) {
  const dir = `${root}bench/results/profiles`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/${name}.heapsnapshot`, text);
}

async function backlog(n) {
  const s = await relaySession();
  for (let done = 0; done < n; done += 500) await s.publishMany(Math.min(500, n - done));
  const clients = new Clients(1);
  try {
    const peak = sampleRss(edge.child.pid, 20);
    const rss0 = procStats(edge.child.pid).rss;
    const t0 = now();
    await clients.open(edge.url + s.path, 1, { lastEventId: 0 });
    const done = await clients.waitComplete(1, n, 60_000);
    const rep = await clients.report({ expect: n });
    return { events: n, caughtUpMs: Math.round(done.at - t0), complete: rep.complete === 1, nonContiguous: rep.nonContiguous, edgeRssStartMB: +(rss0 / 2 ** 20).toFixed(1), edgeRssPeakMB: +(peak() / 2 ** 20).toFixed(1) };
  } finally {
    await clients.close().catch(() => undefined);
    clients.kill();
  }
}

async function storm(k, behind) {
  const s = await relaySession();
  const total = 1000;
  for (let done = 0; done < total; done += 500) await s.publishMany(500);
  const clients = new Clients(2);
  try {
    const t0 = now();
    await clients.open(edge.url + s.path, k, { lastEventId: total - behind });
    const done = await clients.waitComplete(k, behind, 120_000);
    const rep = await clients.report({ expect: behind, withLastIds: true });
    const wrongEnd = rep.lastIds.filter((id) => id !== total).length;
    if (rep.closedEarly) console.error('    storm errors:', JSON.stringify(rep.errors));
    return { subscribers: k, behind, caughtUpMs: Math.round(done.at - t0), complete: `${rep.complete}/${k}`, disconnects: rep.closedEarly, nonContiguous: rep.nonContiguous, wrongLastId: wrongEnd, lost: rep.lost, duplicated: rep.duplicated };
  } finally {
    await clients.close().catch(() => undefined);
    clients.kill();
  }
}

async function slowConsumer(fast, withSlow) {
  const slowEdge = await startEdge({ SUBSCRIBER_MAX_QUEUE_BYTES: '65536' });
  const clients = new Clients(2);
  const slowClient = new Clients(1);
  try {
    const s = await relaySession();
    const url = slowEdge.url + s.path;
    await clients.open(url, fast);
    if (withSlow) await slowClient.open(url, 1, { slowBytesPerSec: 1024 });
    await s.publish();
    await clients.waitComplete(fast, 1, 60_000);
    await clients.resetSamples();
    // 1 KB events at 200/s: the slow reader (1 KB/s) falls behind by far more than the kernel's loopback
    // buffers hold, so the edge's own queue for it must pass the 64 KiB bound configured for this scenario.
    const n = size(800, 1600);
    const pad = ' ' + 'x'.repeat(1000);
    const t0 = now();
    for (let i = 0; i < n; i++) {
      await s.publish(pad);
      await sleep(Math.max(0, t0 + (i + 1) * 5 - now()));
    }
    await clients.waitComplete(fast, n, 60_000);
    const rep = await clients.report({ withLatencies: true, expect: n });
    const lat = percentiles(rep.latencies);
    const row = { fast, withSlow, fastP99ms: +lat.p99.toFixed(2), fastP50ms: +lat.p50.toFixed(2), fastComplete: `${rep.complete}/${fast}` };
    if (withSlow) {
      const slow = await slowClient.report({ withLastIds: true });
      row.slowDisconnected = slow.closedEarly === 1;
      const lastId = slow.lastIds[0] ?? 0;
      row.slowLastId = lastId;
      // It resumes from its last id and must get exactly the rest.
      const again = new Clients(1);
      await again.open(url, 1, { lastEventId: lastId });
      const d = await again.waitComplete(1, n + 1 - lastId, 30_000);
      const r2 = await again.report({ withLastIds: true });
      row.slowResumedExactly = !d.timedOut && r2.nonContiguous === 0 && r2.lastIds[0] === n + 1 && r2.deltas === n + 1 - lastId;
      again.kill();
    }
    return row;
  } finally {
    await clients.close().catch(() => undefined);
    clients.kill();
    slowClient.kill();
    slowEdge.child.kill('SIGKILL');
  }
}

async function manySessions(sessions, perSession) {
  const clients = new Clients(2);
  try {
    const ss = [];
    for (let i = 0; i < sessions; i++) ss.push(await relaySession());
    for (const s of ss) await clients.open(edge.url + s.path, perSession);
    await Promise.all(ss.map((s) => s.publish()));
    await clients.waitComplete(sessions * perSession, 1, 60_000);
    await clients.resetSamples();
    const rounds = size(20, 50);
    const t0 = now();
    // Every session gets an event every 100 ms (10 events/s each).
    for (let r = 0; r < rounds; r++) {
      await Promise.all(ss.map((s) => s.publish()));
      await sleep(Math.max(0, t0 + (r + 1) * 100 - now()));
    }
    const done = await clients.waitComplete(sessions * perSession, rounds, 60_000);
    const rep = await clients.report({ withLatencies: true, expect: rounds });
    const lat = percentiles(rep.latencies);
    return { sessions, perSession, appendsPerSec: Math.round((sessions * rounds) / ((done.at - t0) / 1000)), deliveredPerSec: Math.round(rep.deltasSinceReset / ((done.at - t0) / 1000)), p50ms: +lat.p50.toFixed(2), p99ms: +lat.p99.toFixed(2), complete: `${rep.complete}/${sessions * perSession}` };
  } finally {
    await clients.close().catch(() => undefined);
    clients.kill();
  }
}

/**
 * Redis Cluster scaling: many sessions appending as fast as they can through one edge, on a 1-shard and a
 * 3-shard cluster. Aggregate appended and delivered events/s; the ratio is what a second and third shard buy.
 */
async function shards(masters) {
  const url = await startCluster(masters);
  console.error(`    cluster of ${masters} up: ${url}`);
  const port = await freePort();
  const edgeChild = await startService('edge', { ...AUTH_ENV, REDIS_URL: url, REDIS_KEY_PREFIX: prefix, PORT: String(port) }, port);
  const client = createRedis(parseRedisTarget(url), 'bench-publisher');
  const cstore = new SessionStore(client, keySpace(prefix), { maxLen: 100_000, retentionSeconds: 600, openTtlSeconds: 600 });
  const clients = new Clients(2);
  try {
    const sessions = size(100, 300);
    const ss = [];
    for (let i = 0; i < sessions; i++) {
      const id = newSessionId();
      await cstore.create(id, { model: 'bench', createdAt: Date.now(), tenant: TENANT });
      const { attempt } = await cstore.begin(id);
      ss.push({ id, attempt, seq: 0 });
    }
    for (const s of ss) await clients.open(`http://127.0.0.1:${port}/v1/sessions/${s.id}/events${tokenQuery(s.id)}`, 2);
    console.error('    sessions created and subscribed');
    const perSession = size(100, 200);
    const t0 = now();
    // 20 publishers in flight per session at most: pipelined, like ingest with its batching.
    await Promise.all(ss.map(async (s) => {
      for (let i = 0; i < perSession; i++) await cstore.append(s.id, s.attempt, ++s.seq, [{ type: 'delta', text: `${now()}` }]);
    }));
    const appended = now();
    const done = await clients.waitComplete(sessions * 2, perSession, 60_000);
    const rep = await clients.report({ expect: perSession });
    return { shards: masters, sessions, subscribersPerSession: 2, appendedPerSec: Math.round((sessions * perSession) / ((appended - t0) / 1000)), deliveredPerSec: Math.round(rep.deltas / ((done.at - t0) / 1000)), complete: `${rep.complete}/${sessions * 2}` };
  } finally {
    await clients.close().catch(() => undefined);
    clients.kill();
    client.disconnect();
    edgeChild.kill('SIGKILL');
  }
}

/**
 * Picks COALESCE_MS: for each window, an ingest worker streams the mock model through the real path
 * (edge API -> BullMQ -> ingest -> Redis) at about 1,000, 200 and 50 tokens/s, and we count the events
 * appended per 1,000 tokens (each one is a Redis round trip and a write to every subscriber).
 */
async function coalesce(windowMs) {
  const prefixC = `co${windowMs}`;
  const edgePort = await freePort();
  const e = await startService('edge', { ...AUTH_ENV, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefixC, PORT: String(edgePort) }, edgePort);
  const w = await startService('ingest', { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefixC, MOCK_MODEL_URL: `http://127.0.0.1:${mockPort}`, METRICS_PORT: '0', COALESCE_MS: String(windowMs) });
  try {
    const row = { windowMs };
    for (const [label, intervalMs, tokens] of [['1000/s', 1, size(1000, 2000)], ['200/s', 5, size(400, 1000)], ['50/s', 20, size(100, 250)]]) {
      const res = await fetch(`http://127.0.0.1:${edgePort}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ messages: [{ role: 'user', content: 'coalesce' }], max_tokens: tokens, mock: { intervalMs } }) });
      const { id } = await res.json();
      const t0 = now();
      let st;
      do {
        await sleep(50);
        st = await (await fetch(`http://127.0.0.1:${edgePort}/v1/sessions/${id}`, { headers: auth })).json();
      } while (st.status === 'queued' || st.status === 'running');
      row[`${label}EventsPer1kTokens`] = Math.round((Number(st.lastEventId) / tokens) * 1000);
      row[`${label}Ms`] = Math.round(now() - t0);
    }
    return row;
  } finally {
    e.kill('SIGKILL');
    w.kill('SIGKILL');
  }
}

const run = (name) => !only || only.includes(name);
// A comparison server that dies (resumable-stream did, under load: "Timeout waiting for ack") costs its row,
// not the run.
async function guarded(fn, row) {
  try {
    return await fn();
  } catch (e) {
    return { ...row, error: String(e?.message ?? e) };
  }
}
const ctx = { edge, redis, redisPid, relaySession, env: { ...AUTH_ENV, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix }, profile: profilePhase ? startPhaseProfile : undefined };
// --scale=1000,100,5,8,30: sessions, subscribers per session, edges, client processes, seconds of publishing.
const scaleArg = arg('scale')?.map(Number);
const scaleSize = scaleArg ? { sessions: scaleArg[0], perSession: scaleArg[1], edges: scaleArg[2] ?? 5, procs: scaleArg[3] ?? 8, seconds: scaleArg[4] ?? 20 } : size({ sessions: 20, perSession: 100, edges: 5, procs: 4, seconds: 5 }, { sessions: 1000, perSession: 100, edges: 5, procs: 8, seconds: 30 });
try {
  console.error(`Relaycast bench (${setup.mode}) on ${setup.machine.cores} cores, Node ${setup.machine.node}`);
  for (const s of skipped) console.error(`  peer skipped: ${s}`);
  if (run('fanout')) {
    const counts = onlySubs ?? size([1000, 5000], [100, 1000, 5000]);
    for (const subs of counts) {
      // 50 events/s is compared at 1,000 subscribers (issue 18's latency goal) and below; 5,000 is for max rate.
      for (const mode of onlyModes ?? (subs > 1000 ? ['max'] : ['max', '50/s'])) {
        for (const system of onlySystems ?? ['relaycast', 'bound', 'nchan', 'pushpin', 'naive', 'rstream']) {
          if (peerMissing[system]) continue;
          // Naive needs a Redis connection per subscriber and resumable-stream a PUBLISH per subscriber per
          // chunk; past 1,000 subscribers (or in a quick run) they would only measure how they fall over.
          if ((subs > 1000 || quick) && (system === 'naive' || system === 'rstream')) continue;
          // A quick run keeps 5,000 subscribers for the ratio to the bound only: the peers take minutes there.
          if (subs > 1000 && quick && (system === 'pushpin' || system === 'nchan')) continue;
          // Once more if no subscriber came live: seen twice in a loaded full run, not reproduced alone.
          let row = await guarded(() => fanout(system, subs, mode), { system, subs, mode });
          if (row.error) row = { ...(await guarded(() => fanout(system, subs, mode), { system, subs, mode })), firstAttempt: row.error };
          record('fanout', row);
        }
      }
    }
  }
  if (run('redis')) {
    // The publisher's own script (EVALSHA and the commands it runs) is the baseline with no subscriber;
    // what the edge adds on top is its cost.
    const rows = [];
    for (const subs of [0, 1, size(1000, 10000)]) rows.push(await redisCost(subs));
    for (const r of rows) record('redis-cost', { ...r, edgeCommandsPerEvent: +(r.commandsPerEvent - rows[0].commandsPerEvent).toFixed(3) });
  }
  if (run('idle')) {
    record('idle', await idle(size(2000, 10000)));
    // A fresh nginx: one that served the fan-out keeps its freed pools resident and would show no growth.
    if (!peerMissing.nchan) {
      const fresh = await startNchan();
      try {
        record('idle', await idlePeer(fresh, size(2000, 10000)));
      } finally {
        await fresh.stop();
      }
    }
  }
  if (run('subscribe')) record('subscribe-cost', await subscribeCost(ctx, size(100, 300), size(2000, 10000)));
  if (run('resume') || run('backlog')) record('resume-backlog', await backlog(size(20_000, 100_000)));
  if (run('resume') || run('storm')) record('resume-storm', await storm(size(2000, 10000), 500));
  if (run('slow')) for (const withSlow of [false, true]) record('slow-consumer', await slowConsumer(size(300, 1000), withSlow));
  if (run('sessions')) record('many-sessions', await manySessions(size(200, 1000), 10));
  if (run('shards')) for (const m of [1, 3]) record('cluster-shards', await shards(m));
  if (run('cancel')) record('cancel-latency', await cancelLatency({ redisUrl, mockPort, env: AUTH_ENV, auth, count: 200 }));
  if (run('coalesce')) for (const w of [0, 5, 10, 20, 50]) record('coalesce-window', await coalesce(w));
  if (run('publish')) for (const { scenario, ...row } of await publishScenario(quick)) record(`publish-${scenario}`, row);
  // Last: it holds the most sockets and memory, and its edges would otherwise share the cores with the rest.
  if (run('scale')) record('scale', await scale(ctx, scaleSize));
} finally {
  for (const p of peers.values()) await p.stop().catch(() => undefined);
  redis.disconnect();
  await killAll();
}

const goalRows = goals(results).filter((g) => !only || g.value !== undefined);
writeFileSync(out, JSON.stringify({ setup, goals: goalRows, results }, null, 2));
console.log(renderMarkdown(setup, results, goalRows));
console.error(`\nwrote ${out}`);
process.exit(0);

function renderMarkdown(setup, rows, goalRows) {
  const v = setup.versions;
  const lines = [`Setup: ${setup.machine.cores} cores (${setup.machine.cpu}), Node ${setup.machine.node}, Redis ${v.redis}, nginx ${v.nginx ?? '–'} + nchan ${v.nchan ?? '–'}, Pushpin ${v.pushpin ?? '–'} + zurl ${v.zurl ?? '–'}; ${setup.mode} run, ${setup.clients}; Redis, edge, ingest, mock model and comparison servers each a separate process.${setup.skippedPeers.length ? ` Skipped: ${setup.skippedPeers.join('; ')}.` : ''}`, ''];
  if (goalRows.length) {
    lines.push('**Goals (issue 18)**', '', '| goal | Relaycast | target | peer / bound | ratio | |', '|---|---|---|---|---|---|');
    for (const g of goalRows) lines.push(`| ${g.goal} | ${g.value ?? '–'} | ${g.target} | ${g.peer ?? '–'} | ${g.ratio ?? '–'} | ${g.met} |`);
    lines.push('');
  }
  const groups = [...new Set(rows.map((r) => r.scenario))];
  for (const g of groups) {
    const rs = rows.filter((r) => r.scenario === g).map(({ scenario, ...r }) => r);
    const cols = [...new Set(rs.flatMap((r) => Object.keys(r)))];
    lines.push(`**${g}**`, '', `| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`);
    for (const r of rs) lines.push(`| ${cols.map((c) => (r[c] === undefined ? '' : String(r[c]))).join(' | ')} |`);
    lines.push('');
  }
  const ratio = (subs, mode) => {
    const get = (sys) => rows.find((r) => r.scenario === 'fanout' && r.system === sys && r.subs === subs && r.mode === mode)?.deliveredPerSec;
    const rc = get('relaycast');
    const over = (sys, d = 2) => (rc && get(sys) ? +(rc / get(sys)).toFixed(d) : '–');
    return [over('bound'), over('nchan'), over('pushpin'), over('rstream', 1), over('naive', 1)];
  };
  if (groups.includes('fanout')) {
    lines.push('**Ratios (Relaycast delivered events/s over each peer, same run)**', '', '| subscribers | mode | vs bound | vs nchan | vs Pushpin | vs resumable-stream | vs naive |', '|---|---|---|---|---|---|---|');
    for (const subs of [...new Set(rows.filter((r) => r.scenario === 'fanout').map((r) => r.subs))]) for (const mode of ['max', '50/s']) {
      if (!rows.some((r) => r.scenario === 'fanout' && r.subs === subs && r.mode === mode)) continue;
      lines.push(`| ${subs} | ${mode} | ${ratio(subs, mode).join(' | ')} |`);
    }
  }
  return lines.join('\n');
}
