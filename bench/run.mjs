// npm run bench [-- --quick]: Relaycast's edge against the limit (bare node:http), a naive XREAD-per-subscriber
// relay and Vercel's resumable-stream, on the same machine, sockets and Redis. Prints a markdown table and
// writes JSON to bench/results/.
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { SessionStore, TokenSigner, apiKeyEntry, createRedis, keySpace, newApiKey, newSessionId, encodeFrame, parseRedisTarget } from '../packages/shared/dist/index.js';
import { inspect } from './inspector.mjs';
import { cancelLatency } from './cancel.mjs';
import { Clients, freePort, killAll, now, percentiles, procStats, root, sampleRss, sleep, startCluster, startRedis, startServer, startService } from './lib.mjs';

const quick = process.argv.includes('--quick');
const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3).split(',');
// Narrow a run while investigating: --only=fanout,redis --systems=relaycast --subs=1000 --modes=max
const only = arg('only');
const onlySystems = arg('systems');
const onlySubs = arg('subs')?.map(Number);
const onlyModes = arg('modes');
const size = (q, full) => (quick ? q : full);
const results = [];
const setup = {
  machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, platform: process.platform },
  mode: quick ? 'quick' : 'full',
  clients: '2 load-generator processes over loopback HTTP',
};
const record = (scenario, row) => {
  results.push({ scenario, ...row });
  console.error(`  ${scenario}: ${JSON.stringify(row)}`);
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
    publish: (pad = '') => store.append(id, attempt, ++seq, [{ type: 'delta', text: `${now()}${pad}` }]),
    publishMany: (n) => store.append(id, attempt, (seq += n) - n + 1, Array.from({ length: n }, () => ({ type: 'delta', text: `${now()}` }))),
    get seq() { return seq; },
  };
}

/** Same frames for the comparison servers. */
function frameFor(seq, pad = '') {
  return encodeFrame({ id: String(seq), event: 'delta', data: JSON.stringify({ text: `${now()}${pad}` }) }).toString();
}

async function fanout(system, subs, mode) {
  const clients = new Clients(2);
  let server, url, publish, pid;
  let seq = 0;
  if (system === 'relaycast') {
    const s = await relaySession();
    url = edge.url + s.path;
    publish = () => s.publish();
    pid = edge.child.pid;
  } else if (system === 'limit') {
    server = await startServer('limit.mjs');
    url = `http://127.0.0.1:${server.port}/`;
    publish = async () => server.child.send({ cmd: 'publish', frame: frameFor(++seq) });
    pid = server.child.pid;
  } else if (system === 'naive') {
    const key = `naive:${newSessionId()}`;
    server = await startServer('naive.mjs', [redisUrl, key]);
    url = `http://127.0.0.1:${server.port}/`;
    publish = () => redis.xadd(key, '*', 'event', 'delta', 'data', JSON.stringify({ text: `${now()}` }));
    pid = server.child.pid;
  } else {
    server = await startServer('rstream.mjs', [redisUrl]);
    url = `http://127.0.0.1:${server.port}/`;
    publish = async () => server.child.send({ cmd: 'publish', frame: frameFor(++seq) });
    pid = server.child.pid;
  }
  try {
    await clients.open(url, subs);
    // Warm-up event: every subscriber is live once it has it.
    await publish();
    const warm = await clients.waitComplete(subs, 1, 60_000);
    if (warm.timedOut) return { system, subs, mode, error: `only ${warm.complete}/${subs} live after 60 s` };
    const n = mode === 'max' ? size(500, 2000) : size(150, 500);
    const before = procStats(pid);
    const peak = sampleRss(pid);
    const t0 = now();
    // As fast as it can: every publisher fires without waiting for the previous one (ioredis pipelines
    // the appends in order on one connection, as IPC does for the bare servers).
    if (mode === 'max') await Promise.all(Array.from({ length: n }, () => publish()));
    else for (let i = 0; i < n; i++) {
      await publish();
      await sleep(Math.max(0, t0 + (i + 1) * 20 - now()));
    }
    const done = await clients.waitComplete(subs, n + 1, size(30_000, 90_000));
    const elapsed = (done.at - t0) / 1000;
    const after = procStats(pid);
    const rep = await clients.report({ withLatencies: true, expect: n + 1 });
    const lat = percentiles(rep.latencies.slice(subs));
    return {
      system, subs, mode, events: n,
      deliveredPerSec: Math.round((rep.deltas - subs) / elapsed),
      complete: `${rep.complete}/${subs}`,
      p50ms: +lat.p50.toFixed(2), p99ms: +lat.p99.toFixed(2), maxms: +lat.max.toFixed(2),
      cpuPct: Math.round(((after.cpu - before.cpu) / elapsed) * 100),
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
      return { ...memory, open };
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
    return { connections: after.open, notOpen: k - after.open, rssBeforeMB: +(before.rss / 2 ** 20).toFixed(1), rssAfterMB: +(after.rss / 2 ** 20).toFixed(1), kbPerConnection: perConn(before.rss, after.rss), jsHeapKbPerConnection: perConn(before.heapUsed, after.heapUsed) };
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
    return { subscribers: k, behind, caughtUpMs: Math.round(done.at - t0), complete: `${rep.complete}/${k}`, disconnects: rep.closedEarly, nonContiguous: rep.nonContiguous, wrongLastId: wrongEnd, duplicatesOrLoss: rep.deltas !== k * behind ? rep.deltas - k * behind : 0 };
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
    // 1 KB events at 200/s: the slow reader (1 KB/s) falls behind by far more than the kernel's loopback
    // buffers hold, so the edge's own queue for it must pass the 64 KiB bound configured for this scenario.
    const n = size(800, 1600);
    const pad = ' ' + 'x'.repeat(1000);
    const t0 = now();
    for (let i = 0; i < n; i++) {
      await s.publish(pad);
      await sleep(Math.max(0, t0 + (i + 1) * 5 - now()));
    }
    await clients.waitComplete(fast, n + 1, 60_000);
    const rep = await clients.report({ withLatencies: true, expect: n + 1 });
    const lat = percentiles(rep.latencies.slice(fast));
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
    const rounds = size(20, 50);
    const t0 = now();
    // Every session gets an event every 100 ms (10 events/s each).
    for (let r = 0; r < rounds; r++) {
      await Promise.all(ss.map((s) => s.publish()));
      await sleep(Math.max(0, t0 + (r + 1) * 100 - now()));
    }
    const done = await clients.waitComplete(sessions * perSession, rounds + 1, 60_000);
    const rep = await clients.report({ withLatencies: true, expect: rounds + 1 });
    const lat = percentiles(rep.latencies.slice(sessions * perSession));
    return { sessions, perSession, appendsPerSec: Math.round((sessions * rounds) / ((done.at - t0) / 1000)), deliveredPerSec: Math.round((rep.deltas - sessions * perSession) / ((done.at - t0) / 1000)), p50ms: +lat.p50.toFixed(2), p99ms: +lat.p99.toFixed(2), complete: `${rep.complete}/${sessions * perSession}` };
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
try {
  console.error(`Relaycast bench (${setup.mode}) on ${setup.machine.cores} cores, Node ${setup.machine.node}`);
  if (run('fanout')) {
    const counts = onlySubs ?? size([100, 1000], [100, 1000, 10000]);
    for (const subs of counts) {
      for (const mode of onlyModes ?? ['max', '50/s']) {
        for (const system of onlySystems ?? ['relaycast', 'limit', 'naive', 'rstream']) {
          // Naive needs a Redis connection per subscriber and resumable-stream a PUBLISH per subscriber per
          // chunk; past 1,000 subscribers they would only measure how they fall over.
          if (subs > 1000 && (system === 'naive' || system === 'rstream')) continue;
          record('fanout', await fanout(system, subs, mode));
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
  if (run('idle')) record('idle', await idle(size(2000, 10000)));
  if (run('resume') || run('backlog')) record('resume-backlog', await backlog(size(20_000, 100_000)));
  if (run('resume') || run('storm')) record('resume-storm', await storm(size(2000, 10000), 500));
  if (run('slow')) for (const withSlow of [false, true]) record('slow-consumer', await slowConsumer(size(300, 1000), withSlow));
  if (run('sessions')) record('many-sessions', await manySessions(size(200, 1000), 10));
  if (run('shards')) for (const m of [1, 3]) record('cluster-shards', await shards(m));
  if (run('cancel')) record('cancel-latency', await cancelLatency({ redisUrl, mockPort, env: AUTH_ENV, auth, count: 200 }));
  if (run('coalesce')) for (const w of [0, 5, 10, 20, 50]) record('coalesce-window', await coalesce(w));
} finally {
  await killAll();
  redis.disconnect();
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
mkdirSync(`${root}bench/results`, { recursive: true });
const out = `${root}bench/results/${stamp}${quick ? '-quick' : ''}.json`;
writeFileSync(out, JSON.stringify({ setup, results }, null, 2));
console.log(renderMarkdown(setup, results));
console.error(`\nwrote ${out}`);
process.exit(0);

function renderMarkdown(setup, rows) {
  const lines = [`Setup: ${setup.machine.cores} cores (${setup.machine.cpu}), Node ${setup.machine.node}, ${setup.mode} run, ${setup.clients}; Redis, edge, ingest, mock model and comparison servers each a separate process.`, ''];
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
    return { vsLimit: rc && get('limit') ? +(rc / get('limit')).toFixed(2) : undefined, vsResumableStream: rc && get('rstream') ? +(rc / get('rstream')).toFixed(1) : undefined, vsNaive: rc && get('naive') ? +(rc / get('naive')).toFixed(1) : undefined };
  };
  if (groups.includes('fanout')) {
    lines.push('**Ratios (Relaycast delivered events/s over each peer, same run)**', '', '| subscribers | mode | vs limit | vs resumable-stream | vs naive |', '|---|---|---|---|---|');
    for (const subs of [...new Set(rows.filter((r) => r.scenario === 'fanout').map((r) => r.subs))]) for (const mode of ['max', '50/s']) {
      const r = ratio(subs, mode);
      lines.push(`| ${subs} | ${mode} | ${r.vsLimit ?? '–'} | ${r.vsResumableStream ?? '–'} | ${r.vsNaive ?? '–'} |`);
    }
  }
  return lines.join('\n');
}
