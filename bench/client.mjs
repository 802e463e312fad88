// A load-generating process: opens N SSE connections over raw HTTP and reports what each received.
// Driven by its parent over IPC: {cmd:'open', ...} → 'opened'; {cmd:'report'} → stats; {cmd:'close'}.
// Each delta's text is the publish time (ms since epoch, fractional), so latency = receive − publish.
import http from 'node:http';

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
let conns = [];
let latencies = [];
const MAX_SAMPLES = 2_000_000;

function now() {
  return performance.timeOrigin + performance.now();
}

class Conn {
  constructor(url, opts) {
    this.ids = [];
    this.deltas = 0;
    this.ended = false;
    this.error = undefined;
    this.status = 0;
    this.buf = '';
    this.expect = opts.expect;
    this.lastId = opts.lastEventId;
    this.slowBytesPerSec = opts.slowBytesPerSec;
    const headers = { accept: 'text/event-stream' };
    if (opts.lastEventId !== undefined) headers['last-event-id'] = String(opts.lastEventId);
    this.req = http.get(url, { agent, headers }, (res) => {
      this.status = res.statusCode;
      this.res = res;
      res.setEncoding('utf8');
      if (this.slowBytesPerSec) return this.readSlowly(res);
      res.on('data', (c) => this.feed(c));
      res.on('end', () => { this.ended = true; });
      res.on('error', (e) => { this.error = e.message; });
      res.on('close', () => { if (!this.ended) this.closedEarly = true; });
    });
    this.req.on('error', (e) => { this.error = e.message; });
    this.req.setTimeout(0);
  }
  readSlowly(res) {
    // Read at most `slowBytesPerSec` each second: the socket's receive window fills and the server sees a slow consumer.
    res.pause();
    const tick = setInterval(() => {
      let budget = this.slowBytesPerSec;
      let c;
      while (budget > 0 && (c = res.read(Math.min(budget, res.readableLength || budget))) !== null) {
        budget -= Buffer.byteLength(c);
        this.feed(c);
      }
    }, 1000);
    res.on('end', () => { this.ended = true; clearInterval(tick); });
    res.on('close', () => { clearInterval(tick); if (!this.ended) this.closedEarly = true; });
    res.on('error', (e) => { this.error = e.message; });
  }
  // Kept cheap on purpose: the clients share two cores with the servers, and their parsing cost would
  // otherwise show up as the servers' latency. Frames come from our own encoders (one data line each).
  feed(chunk) {
    const at = now();
    const text = this.buf ? this.buf + chunk : chunk;
    let start = 0;
    let i;
    while ((i = text.indexOf('\n\n', start)) >= 0) {
      this.onFrame(text, start, i, at);
      start = i + 2;
    }
    this.buf = start < text.length ? text.slice(start) : '';
  }
  onFrame(text, start, end, at) {
    if (text.charCodeAt(start) === 58 /* ':' comment */) return;
    const data = text.indexOf('data: ', start);
    if (data < 0 || data >= end) return; // `retry:` and other frames without data
    if (text.startsWith('id: ', start)) this.ids.push(Number(text.slice(start + 4, text.indexOf('\n', start))));
    const ev = text.indexOf('event: ', start);
    if (ev >= 0 && ev < end && !text.startsWith('delta', ev + 7)) return;
    this.deltas++;
    const t = text.indexOf('"text":"', start);
    if (t >= 0 && t < end && latencies.length < MAX_SAMPLES) {
      const v = parseFloat(text.slice(t + 8, t + 30));
      if (Number.isFinite(v)) latencies.push(at - v);
    }
  }
}

process.on('message', async (m) => {
  if (m.cmd === 'open') {
    latencies = [];
    const started = [];
    for (let i = 0; i < m.n; i++) {
      const c = new Conn(m.url, m);
      conns.push(c);
      started.push(new Promise((r) => { c.req.on('response', r); c.req.on('error', r); }));
      // Open in small bursts so the accept queue is not flooded.
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all(started);
    process.send({ cmd: 'opened', n: conns.length, statuses: count(conns.map((c) => c.status)) });
  } else if (m.cmd === 'report') {
    const contiguousErrors = conns.filter((c) => c.ids.some((id, k) => k > 0 && id !== c.ids[k - 1] + 1)).length;
    process.send({
      cmd: 'report',
      conns: conns.length,
      deltas: conns.reduce((a, c) => a + c.deltas, 0),
      minDeltas: Math.min(...conns.map((c) => c.deltas)),
      complete: m.expect ? conns.filter((c) => c.deltas >= m.expect).length : undefined,
      closedEarly: conns.filter((c) => c.closedEarly || c.error).length,
      errors: count(conns.filter((c) => c.error || c.closedEarly).map((c) => c.error ?? `closed after ${c.deltas} (status ${c.status})`)),
      nonContiguous: contiguousErrors,
      lastIds: m.withLastIds ? conns.map((c) => c.ids.at(-1) ?? null) : undefined,
      latencies: m.withLatencies ? latencies : undefined,
    });
  } else if (m.cmd === 'progress') {
    process.send({ cmd: 'progress', complete: conns.filter((c) => c.deltas >= m.expect).length, closedEarly: conns.filter((c) => c.closedEarly || c.error).length });
  } else if (m.cmd === 'close') {
    for (const c of conns) c.req.destroy();
    conns = [];
    process.send({ cmd: 'closed' });
  }
});

function count(arr) {
  const o = {};
  for (const x of arr) o[x] = (o[x] ?? 0) + 1;
  return o;
}
