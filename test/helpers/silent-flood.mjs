// A separate process that opens TCP connections to an edge and never sends a byte, from several loopback
// source addresses (one address has only ~28,000 ephemeral ports). It keeps `concurrency` attempts
// outstanding until `total` were made, replacing each one the server closes, then prints one JSON line:
// how many were attempted, connected, closed by the server, and failed (by error code).
// Usage: node silent-flood.mjs '{"port":8080,"total":100000,"concurrency":10000,"from":["127.0.0.2"],"maxMs":120000}'
import { connect } from 'node:net';

const o = JSON.parse(process.argv[2] ?? '{}');
const from = o.from ?? ['127.0.0.2'];
const r = { attempted: 0, connected: 0, closedByServer: 0, givenUp: 0, errors: {}, maxOpen: 0, ms: 0, complete: false };
let open = 0;
let outstanding = 0;
const started = Date.now();

function finish(complete) {
  r.complete = complete;
  r.ms = Date.now() - started;
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
}

function attempt() {
  if (r.attempted >= o.total) {
    if (outstanding === 0) finish(true);
    return;
  }
  const localAddress = from[r.attempted % from.length];
  r.attempted++;
  outstanding++;
  const s = connect({ port: o.port, host: o.host ?? '127.0.0.1', localAddress });
  // Flowing, so the server's FIN is read and 'end' fires (a paused socket would sit in CLOSE_WAIT).
  s.resume();
  let connected = false;
  s.on('connect', () => {
    connected = true;
    r.connected++;
    open++;
    if (open > r.maxOpen) r.maxOpen = open;
  });
  // Whatever ends it (the server closing, a reset, a refusal), it is replaced at once.
  s.on('end', () => s.destroy());
  // A handshake the server's full accept queue dropped leaves this side connected to nothing, forever: given
  // up after `idleMs` (far longer than any headers timeout) so the flood ends.
  s.setTimeout(o.idleMs ?? 30_000, () => {
    r.givenUp++;
    s.destroy();
  });
  s.on('error', (e) => {
    r.errors[e.code ?? 'error'] = (r.errors[e.code ?? 'error'] ?? 0) + 1;
  });
  s.on('close', (hadError) => {
    if (connected) {
      open--;
      if (!hadError) r.closedByServer++;
    }
    outstanding--;
    setImmediate(attempt);
  });
}

for (let i = 0; i < Math.min(o.concurrency, o.total); i++) attempt();
setTimeout(() => finish(false), o.maxMs ?? 120_000).unref();
// Progress for a watching parent: how many are open now, every second.
setInterval(() => process.stderr.write(`${JSON.stringify({ attempted: r.attempted, open })}\n`), 1_000).unref();
