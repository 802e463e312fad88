// node bench/publish.mjs [--quick] [--out=FILE] (after npm run build): the publish API (docs/publishing.md),
// alone or as run.mjs's `publish` scenario (which passes --out and reads the rows back). 1) appended events/s through the HTTP publish path (batched JSON, one streaming
// NDJSON request) next to appending directly to the store as ingest does; 2) fan-out of a published
// session to many subscribers next to a directly appended (generated) one, same pacing. Prints a markdown
// table and writes JSON to bench/results/publish-<time>.json.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { newSessionId } from '../packages/protocol/dist/index.js';
import { SessionStore, keySpace } from '../packages/store/dist/index.js';
import { apiKeyEntry, newApiKey } from '../services/edge/dist/api-keys.js';
import { TokenSigner } from '../services/edge/dist/tokens.js';
import { Clients, freePort, killAll, now, percentiles, procStats, root, sleep, startRedis, startService } from './lib.mjs';

const quick = process.argv.includes('--quick');
const size = (q, full) => (quick ? q : full);
const results = [];
const record = (scenario, row) => {
  results.push({ scenario, ...row });
  console.error(`  ${scenario}: ${JSON.stringify(row)}`);
};
process.on('SIGINT', () => void killAll().then(() => process.exit(130)));

const TENANT = 'bench';
const tokenSecret = randomBytes(32).toString('base64url');
const signer = new TokenSigner([tokenSecret]);
const apiKey = newApiKey();
const redisUrl = await startRedis();
const prefix = 'pbench';
const redis = new Redis(redisUrl);
const store = new SessionStore(redis, keySpace(prefix), { maxLen: 1_000_000, retentionSeconds: 3600, openTtlSeconds: 3600 });
const port = await freePort();
const edgeEnv = {
  TOKEN_SECRET: tokenSecret,
  API_KEYS: JSON.stringify([apiKeyEntry(apiKey, 'bench', TENANT)]),
  SESSIONS_PER_MINUTE_PER_KEY: '1000000', MAX_RUNNING_PER_KEY: '1000000', MAX_CONNECTIONS_PER_IP: '1000000', MAX_CONNECTIONS_PER_SESSION: '1000000',
  PUBLISH_EVENTS_PER_SECOND_PER_KEY: '100000000', PUBLISH_MAX_BATCH: '1000',
  REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, PORT: String(port), MAX_CONNECTIONS: '19000',
};
const edge = await startService('edge', edgeEnv, port);
const base = `http://127.0.0.1:${port}`;
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** A JSON request over a keep-alive connection (fetch would add its own per-request costs to the numbers). */
function postJson(path, credential, body) {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = http.request(new URL(path, base), { method: 'POST', agent, headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json', 'content-length': data.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => (text += c)).on('end', () => (res.statusCode < 300 ? resolve(JSON.parse(text)) : reject(new Error(`${path}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    req.end(data);
  });
}

const producer = () => postJson('/v1/sessions', apiKey, { producer: true });
const delta = () => ({ type: 'delta', text: `${now()}` });

async function directAppend(total, batch) {
  const id = newSessionId();
  await store.create(id, { model: 'bench', createdAt: Date.now(), tenant: TENANT });
  const { attempt } = await store.begin(id);
  const t0 = now();
  for (let seq = 1; seq <= total; seq += batch) await store.append(id, attempt, seq, Array.from({ length: batch }, delta));
  return { path: 'store.append (ingest)', batch, events: total, eventsPerSec: Math.round(total / ((now() - t0) / 1000)) };
}

async function httpBatch(total, batch) {
  const s = await producer();
  const t0 = now();
  for (let seq = 1; seq <= total; seq += batch) await postJson(s.producer.publishUrl, s.producer.token, { epoch: 1, seq, events: Array.from({ length: batch }, delta) });
  return { path: 'HTTP batch publish', batch, events: total, eventsPerSec: Math.round(total / ((now() - t0) / 1000)) };
}

async function httpStream(total) {
  const s = await producer();
  const t0 = now();
  const answer = await new Promise((resolve, reject) => {
    const req = http.request(new URL(`${s.producer.publishUrl}?epoch=1&seq=1`, base), { method: 'POST', headers: { authorization: `Bearer ${s.producer.token}`, 'content-type': 'application/x-ndjson' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => (text += c)).on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    // Written in chunks of 100 lines as fast as the socket takes them: the edge appends per received chunk.
    const write = (i) => {
      while (i < total) {
        const lines = Array.from({ length: Math.min(100, total - i) }, () => JSON.stringify(delta()) + '\n').join('');
        i += 100;
        if (!req.write(lines)) return void req.once('drain', () => write(i));
      }
      req.end();
    };
    write(0);
  });
  if (answer.status !== 200 || answer.body.pseq !== total) throw new Error(`stream publish: ${JSON.stringify(answer)}`);
  return { path: 'HTTP streaming publish (NDJSON)', batch: '-', events: total, eventsPerSec: Math.round(total / ((now() - t0) / 1000)) };
}

/** Subscribers on one session; `kind` says how its events are appended (published over HTTP, or directly). */
async function fanout(kind, subs, n, everyMs) {
  const clients = new Clients(2);
  let id, publish;
  if (kind === 'published') {
    const s = await producer();
    id = s.id;
    let seq = 0;
    publish = () => postJson(s.producer.publishUrl, s.producer.token, { epoch: 1, seq: ++seq, events: [delta()] });
  } else {
    id = newSessionId();
    await store.create(id, { model: 'bench', createdAt: Date.now(), tenant: TENANT });
    const { attempt } = await store.begin(id);
    let seq = 0;
    publish = () => store.append(id, attempt, ++seq, [delta()]);
  }
  try {
    await clients.open(`${base}/v1/sessions/${id}/events?token=${signer.mint(id, TENANT, 3_600_000).token}`, subs);
    await publish();
    const warm = await clients.waitComplete(subs, 1, 60_000);
    if (warm.timedOut) return { kind, subs, error: `only ${warm.complete}/${subs} live` };
    const before = procStats(edge.pid);
    const t0 = now();
    // The same pacing for both: one append at a time (a producer's seqs are sequential), every `everyMs`.
    for (let i = 0; i < n; i++) {
      await publish();
      if (everyMs) await sleep(Math.max(0, t0 + (i + 1) * everyMs - now()));
    }
    const done = await clients.waitComplete(subs, n + 1, 90_000);
    const elapsed = (done.at - t0) / 1000;
    const after = procStats(edge.pid);
    const rep = await clients.report({ withLatencies: true, expect: n + 1 });
    const lat = percentiles(rep.latencies.slice(subs));
    return {
      kind, subs, pacing: everyMs ? `${Math.round(1000 / everyMs)}/s` : 'sequential max', events: n,
      deliveredPerSec: Math.round((rep.deltas - subs) / elapsed), complete: `${rep.complete}/${subs}`,
      p50ms: +lat.p50.toFixed(2), p99ms: +lat.p99.toFixed(2), edgeCpuPct: Math.round(((after.cpu - before.cpu) / elapsed) * 100),
      ...(done.timedOut ? { timedOut: true } : {}),
    };
  } finally {
    await clients.close().catch(() => undefined);
    clients.kill();
  }
}

try {
  console.error(`publish bench (${quick ? 'quick' : 'full'}) on ${cpus().length} cores, Node ${process.version}`);
  const total = size(5_000, 50_000);
  for (const batch of [1, 50]) {
    record('append', await directAppend(batch === 1 ? total / 5 : total, batch));
    record('append', await httpBatch(batch === 1 ? total / 5 : total, batch));
  }
  record('append', await httpStream(total));
  const subs = size(200, 1000);
  for (const everyMs of [0, 20]) {
    for (const kind of ['generated', 'published']) record('fanout', await fanout(kind, subs, size(200, 500), everyMs));
  }
  const table = [
    '| append path | batch | events | events/s |', '|---|---|---|---|',
    ...results.filter((r) => r.scenario === 'append').map((r) => `| ${r.path} | ${r.batch} | ${r.events} | ${r.eventsPerSec} |`),
    '', '| fan-out | subscribers | pacing | delivered/s | p50 ms | p99 ms | edge CPU % | complete |', '|---|---|---|---|---|---|---|---|',
    ...results.filter((r) => r.scenario === 'fanout').map((r) => `| ${r.kind} | ${r.subs} | ${r.pacing} | ${r.deliveredPerSec} | ${r.p50ms} | ${r.p99ms} | ${r.edgeCpuPct} | ${r.complete} |`),
  ].join('\n');
  console.log(table);
  mkdirSync(`${root}bench/results`, { recursive: true });
  const out = process.argv.find((a) => a.startsWith('--out='))?.slice(6);
  const file = out ?? `${root}bench/results/publish-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, JSON.stringify({ machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version }, mode: quick ? 'quick' : 'full', results }, null, 2));
  console.error(`results: ${file}`);
} finally {
  redis.disconnect();
  await killAll();
}
