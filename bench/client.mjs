// A load-generating process: opens N SSE connections over raw HTTP and reports what each received.
// Driven by its parent over IPC: {cmd:'open', ...} → 'opened'; {cmd:'report'} → stats; {cmd:'close'};
// {cmd:'resetSamples'} drops the latencies gathered so far (this process's own warm-up samples).
// Each delta's text is the publish time (ms since epoch, fractional), so latency = receive − publish.
import http from 'node:http';
import net from 'node:net';

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
    this.warms = 0;
    this.base = 0; // deltas before the last resetSamples (warm-ups), left out of `expect`
    this.ended = false;
    this.error = undefined;
    this.status = 0;
    this.buf = '';
    this.expect = opts.expect;
    this.lastId = opts.lastEventId;
    this.slowBytesPerSec = opts.slowBytesPerSec;
    const headers = { accept: 'text/event-stream' };
    if (opts.lastEventId !== undefined) headers['last-event-id'] = String(opts.lastEventId);
    if (opts.raw) {
      this.openRaw(url, headers, opts.localAddress);
      return;
    }
    this.ready = new Promise((r) => { this.readyResolve = r; });
    this.req = http.get(url, { agent, headers, localAddress: opts.localAddress }, (res) => {
      this.readyResolve();
      this.status = res.statusCode;
      this.res = res;
      res.setEncoding('utf8');
      if (this.slowBytesPerSec) return this.readSlowly(res);
      res.on('data', (c) => this.feed(c));
      res.on('end', () => { this.ended = true; });
      res.on('error', (e) => { this.error = e.message; });
      res.on('close', () => { if (!this.ended) this.closedEarly = true; });
    });
    this.req.on('error', (e) => { this.error = e.message; this.readyResolve(); });
    this.req.setTimeout(0);
  }
  /**
   * A bare socket with a hand-written GET: far cheaper per connection than node's HTTP client, so one
   * process can hold tens of thousands of streams and the load generator stays cheaper than the servers
   * it measures. Close-delimited and chunked bodies both arrive; chunk-size lines are not SSE frames, so
   * they only need to be kept out of the parser (a chunk boundary never splits them off a frame's end).
   */
  openRaw(url, headers, localAddress) {
    const u = new URL(url);
    const sock = net.connect({ host: u.hostname, port: Number(u.port), localAddress });
    this.req = sock;
    let head = '';
    let chunked = false;
    this.ready = new Promise((resolve) => {
      sock.setEncoding('utf8');
      sock.on('connect', () => {
        const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
        sock.write(`GET ${u.pathname}${u.search} HTTP/1.1\r\nhost: ${u.host}\r\n${lines}\r\n`);
      });
      sock.on('data', (c) => {
        if (this.status) return this.feed(chunked ? unchunk(c) : c);
        head += c;
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        this.status = Number(head.slice(9, 12));
        chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head.slice(0, end));
        const rest = head.slice(end + 4);
        head = '';
        resolve();
        // Refused (edge_full, a bad token...): counted by status, and the socket let go at once.
        if (this.status !== 200) {
          this.error = `HTTP ${this.status}`;
          return sock.destroy();
        }
        if (rest) this.feed(chunked ? unchunk(rest) : rest);
      });
      // Closed before any response: an edge out of file descriptors accepts and closes at once (libuv's EMFILE
      // fallback). Counted as an error, or the stream would wait forever for events.
      sock.on('end', () => {
        this.ended = true;
        if (!this.status) this.error = 'closed before a response';
      });
      sock.on('error', (e) => { this.error = e.message; resolve(); });
      sock.on('close', () => { if (!this.ended) this.closedEarly = true; resolve(); });
    });
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
    const t = text.indexOf('"text":"', start);
    // Warm-up events ("text":"w...") are counted apart: late ones must not pass for measured deliveries.
    if (t >= 0 && t < end && text.charCodeAt(t + 8) === 119 /* w */) return void this.warms++;
    this.deltas++;
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
    let opened = 0;
    let pending = 0;
    let wake;
    for (const { url, n } of m.targets ?? [{ url: m.url, n: m.n }]) {
      for (let i = 0; i < n; i++) {
        // With maxPending, at most that many subscribes await their response at once: the opening pace
        // follows the server's instead of overflowing its accept queue (SYNs dropped, seconds of retries).
        while (m.maxPending && pending >= m.maxPending) await new Promise((r) => { wake = r; });
        const c = new Conn(url, m);
        conns.push(c);
        pending++;
        started.push(c.ready.then(() => { pending--; wake?.(); wake = undefined; }));
        // Open in small bursts so the accept queue is not flooded.
        if (++opened % 200 === 0) await new Promise((r) => setTimeout(r, 5));
      }
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
      complete: m.expect ? conns.filter((c) => c.deltas - c.base >= m.expect).length : undefined,
      deltasSinceReset: conns.reduce((a, c) => a + c.deltas - c.base, 0),
      closedEarly: conns.filter((c) => c.closedEarly || c.error).length,
      errors: count(conns.filter((c) => c.error || c.closedEarly).map((c) => c.error ?? `closed after ${c.deltas} (status ${c.status})`)),
      nonContiguous: contiguousErrors,
      // Per stream, against the ids it should have got: ids seen twice, and ids it never got.
      // Only streams that were accepted (200): a refused one (edge_full) is counted in statuses instead.
      duplicated: m.expect ? conns.reduce((a, c) => a + (c.status === 200 ? c.ids.length - new Set(c.ids).size : 0), 0) : undefined,
      lost: m.expect ? conns.reduce((a, c) => a + (c.status === 200 ? Math.max(0, m.expect - new Set(c.idsBase ? c.ids.slice(c.idsBase) : c.ids).size) : 0), 0) : undefined,
      statuses: count(conns.map((c) => c.status)),
      lastIds: m.withLastIds ? conns.map((c) => c.ids.at(-1) ?? null) : undefined,
      latencies: m.withLatencies ? latencies : undefined,
    });
  } else if (m.cmd === 'resetSamples') {
    latencies = [];
    for (const c of conns) {
      c.base = c.deltas;
      c.idsBase = c.ids.length;
    }
    process.send({ cmd: 'resetSamples' });
  } else if (m.cmd === 'progress') {
    process.send({ cmd: 'progress', complete: conns.filter((c) => (m.warm ? c.warms : c.deltas - c.base) >= m.expect).length, closedEarly: conns.filter((c) => c.closedEarly || c.error).length });
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

/** Drops chunked framing's size lines: SSE frames never contain a line made only of hex digits. */
function unchunk(text) {
  return text.replace(/(^|\r\n)[0-9a-fA-F]+\r\n/g, '');
}
