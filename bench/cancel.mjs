// Cancel latency (issue 17 item 6): the time from sending POST /v1/sessions/:id/cancel to the `cancelled`
// event reaching a subscriber, through the real path (edge -> Redis -> ingest worker -> Redis -> edge).
// Cancels land at different moments of a session's life, since each takes a different path to its end.
import { freePort, now, percentiles, sleep, startService } from './lib.mjs';

/**
 * When a cancel is sent, and what the session is doing then:
 * - `fresh`: right after the create (usually queued, or a worker taking it: begin/subscribe races);
 * - `first-token`: the worker waits for the model's first token (mock firstTokenMs);
 * - `retry`: the upstream answered 503 and the worker sleeps in its retry backoff;
 * - `streaming`: tokens are flowing (after 10 deltas).
 */
const PHASES = {
  fresh: { body: { max_tokens: 400, mock: { intervalMs: 10 } }, ready: async () => undefined },
  'first-token': { body: { max_tokens: 400, mock: { intervalMs: 10, firstTokenMs: 3_000 } }, ready: (s) => s.waitRunning().then(() => sleep(100 + Math.random() * 200)) },
  retry: { body: { max_tokens: 400, mock: { intervalMs: 10, fault: 'status:503' } }, ready: (s) => s.waitRunning().then(() => sleep(100 + Math.random() * 200)) },
  streaming: { body: { max_tokens: 2_000, mock: { intervalMs: 10 } }, ready: (s) => s.waitDeltas(10) },
};

/**
 * Starts its own edge and ingest worker (key prefix `cancel`) on the bench's Redis and mock model, then
 * cancels `count` sessions, `concurrency` at a time, phases in rotation.
 */
export async function cancelLatency({ redisUrl, mockPort, env, auth, count = 200, concurrency = 8 }) {
  const prefix = 'cancel';
  const edgePort = await freePort();
  const edge = await startService('edge', { ...env, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, PORT: String(edgePort) }, edgePort);
  const ingest = await startService('ingest', { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, MOCK_MODEL_URL: `http://127.0.0.1:${mockPort}`, METRICS_PORT: '0', UPSTREAM_RETRY_BASE_MS: '1000' });
  const base = `http://127.0.0.1:${edgePort}`;
  try {
    const names = Object.keys(PHASES);
    const failures = [];
    const round = async (n, seed0) => {
      const samples = Object.fromEntries(names.map((k) => [k, []]));
      let next = 0;
      const lane = async () => {
        for (let i = next++; i < n; i = next++) {
          const phase = names[i % names.length];
          try {
            samples[phase].push(await oneCancel(base, auth, PHASES[phase], seed0 + i));
          } catch (err) {
            failures.push(`${phase} #${i}: ${err.message}`);
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, lane));
      return samples;
    };
    // Warm-up, not counted: the first cancels of fresh processes pay for JIT, connections and script loads.
    await round(names.length * 4, 100_000);
    failures.length = 0;
    const samples = await round(count, 0);
    const frozen = await frozenWorker(base, auth, ingest, 20);
    const all = Object.values(samples).flat();
    const p = percentiles(all);
    const row = { cancels: all.length, concurrency, p50ms: +p.p50.toFixed(1), p99ms: +p.p99.toFixed(1), maxMs: +p.max.toFixed(1), failures: failures.length };
    for (const n of names) {
      const q = percentiles(samples[n]);
      row[`${n}P99ms`] = +q.p99.toFixed(1);
    }
    const frozenP99 = percentiles(frozen).p99;
    row.frozenWorkerP99ms = Number.isFinite(frozenP99) ? +frozenP99.toFixed(1) : 'not landed';
    row.frozenWorkerNotLandedIn5s = frozen.filter((x) => x === Infinity).length;
    if (failures.length) console.error(`    cancel failures:\n      ${failures.slice(0, 10).join('\n      ')}`);
    return row;
  } finally {
    edge.kill('SIGKILL');
    ingest.kill('SIGKILL');
  }
}

/**
 * Cancels `n` streaming sessions while their worker is frozen (SIGSTOP: still subscribed to their control
 * channels, never acting), reported apart from the 200: the edge's grace period (CANCEL_GRACE_MS) is most
 * of each sample. Without it these cancels would wait for the worker to run again.
 */
async function frozenWorker(base, auth, ingest, n) {
  const open = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ messages: [{ role: 'user', content: `frozen ${i}` }], max_tokens: 5_000, mock: { intervalMs: 10 } }) });
    const s = await res.json();
    const sub = subscribe(`${base}${s.eventsUrl}`);
    await sub.open;
    await sub.waitDeltas(5);
    open.push({ s, sub });
  }
  ingest.kill('SIGSTOP');
  try {
    const out = [];
    for (const { s, sub } of open) {
      const sentAt = now();
      const c = await fetch(`${base}${s.cancelUrl}`, { method: 'POST', headers: auth });
      await c.body?.cancel();
      // Bounded: without the edge's grace period these land only once the worker runs again.
      const ended = await Promise.race([sub.terminal, sleep(5_000).then(() => undefined)]);
      if (ended && ended.type !== 'cancelled') throw new Error(`frozen-worker session ended with ${ended.type}`);
      out.push(ended ? ended.at - sentAt : Infinity);
      sub.close();
    }
    return out;
  } finally {
    ingest.kill('SIGCONT');
  }
}

/** One session: subscribe, wait for the phase's moment, cancel, and time the `cancelled` event. */
async function oneCancel(base, auth, phase, seed) {
  const res = await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ messages: [{ role: 'user', content: `cancel ${seed}` }], seed, ...phase.body }) });
  if (res.status !== 201) throw new Error(`create answered ${res.status}`);
  const s = await res.json();
  const sub = subscribe(`${base}${s.eventsUrl}`);
  // A worker has taken the session (status `running`): the phases that wait on the model need that first.
  sub.waitRunning = async () => {
    for (const deadline = now() + 10_000; now() < deadline; await sleep(20)) {
      const st = await (await fetch(`${base}${s.statusUrl}`, { headers: auth })).json();
      if (st.status === 'running') return;
    }
    throw new Error('no worker took the session within 10 s');
  };
  try {
    await sub.open;
    await phase.ready(sub);
    const sentAt = now();
    const c = await fetch(`${base}${s.cancelUrl}`, { method: 'POST', headers: auth });
    const ackAt = now();
    await c.body?.cancel();
    if (c.status !== 202) throw new Error(`cancel answered ${c.status}`);
    const { type, at } = await sub.terminal;
    if (type !== 'cancelled') throw new Error(`ended with ${type}`);
    if (process.env.BENCH_CANCEL_DEBUG) console.error(`    ${seed} ${(at - sentAt).toFixed(1)} ms (ack ${(ackAt - sentAt).toFixed(1)} ms)`);
    return at - sentAt;
  } finally {
    sub.close();
  }
}

/** A minimal SSE reader: when the stream opened, deltas seen, and the terminal event with its arrival time. */
function subscribe(url) {
  const ac = new AbortController();
  let deltas = 0;
  const waiters = new Set();
  const wake = () => { for (const w of waiters) w(); };
  const until = (cond) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for the stream')), 30_000);
    const check = () => { if (cond()) { clearTimeout(timer); waiters.delete(check); resolve(); } };
    waiters.add(check);
    check();
  });
  let openResolve;
  const open = new Promise((r) => (openResolve = r));
  const terminal = (async () => {
    const res = await fetch(url, { signal: ac.signal, headers: { accept: 'text/event-stream' } });
    if (res.status !== 200) throw new Error(`events answered ${res.status}`);
    openResolve();
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      buf += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const type = /^event: ?(.*)$/m.exec(block)?.[1];
        if (!type) continue;
        if (type === 'delta') deltas++;
        if (type === 'done' || type === 'error' || type === 'cancelled') return { type, at: now() };
        wake();
      }
    }
    throw new Error('stream ended without a terminal event');
  })();
  terminal.catch(() => undefined);
  return {
    open: Promise.race([open, terminal]),
    terminal,
    waitDeltas: (n) => until(() => deltas >= n),
    close: () => ac.abort(),
  };
}
