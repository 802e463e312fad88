import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { ErrorCode } from '@relaycast/protocol';
import { CELL, type HealthWorkerData, type MetricsReply } from './health-cells.js';

/**
 * The probe listener's thread (health-listener.ts starts it). It answers from what the edge's main thread
 * last wrote to the shared cells, so an accept burst or a collection pause on the main thread delays no probe;
 * a main loop that has not turned for `stallMs` makes /healthz fail, so a wedged edge is still found out.
 */
const d = workerData as HealthWorkerData;
const cells = new BigInt64Array(d.cells);
const port = parentPort!;
const ageOf = (cell: number) => Date.now() - Number(Atomics.load(cells, cell));

const pending = new Map<number, ServerResponse>();
let nextId = 0;
port.on('message', (m: MetricsReply) => {
  const res = pending.get(m.id);
  if (!res) return;
  pending.delete(m.id);
  res.writeHead(200, { 'Content-Type': m.contentType, 'Cache-Control': 'no-store' }).end(m.body);
});

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(body));
}

function fail(res: ServerResponse, status: number, code: ErrorCode, message: string): void {
  send(res, status, { error: { code, message } });
}

/** Ready: not draining, the main loop turning, and Redis answered a PING within the last readyMaxAgeMs. */
function readiness(): { code: ErrorCode; message: string } | undefined {
  if (Atomics.load(cells, CELL.draining) !== 0n) return { code: 'draining', message: 'this edge is shutting down' };
  if (ageOf(CELL.beat) > d.stallMs) return { code: 'not_ready', message: `event loop stalled over ${d.stallMs} ms` };
  if (ageOf(CELL.redisOkAt) > d.readyMaxAgeMs) return { code: 'not_ready', message: 'redis unreachable' };
  return undefined;
}

const server = createServer({ headersTimeout: 2_000, requestTimeout: 5_000, keepAliveTimeout: 5_000 }, (req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return fail(res, 405, 'method_not_allowed', 'GET only');
  }
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') {
    const age = ageOf(CELL.beat);
    return age > d.stallMs ? fail(res, 503, 'not_ready', `event loop stalled for ${age} ms`) : send(res, 200, { ok: true });
  }
  if (path === '/readyz') {
    const why = readiness();
    return why ? fail(res, 503, why.code, why.message) : send(res, 200, { ok: true });
  }
  if (path === '/metrics') {
    // Counters live on the main thread: this one waits for it, bounded.
    const id = nextId++;
    pending.set(id, res);
    port.postMessage({ id });
    setTimeout(() => pending.delete(id) && fail(res, 503, 'not_ready', 'metrics not answered within 5 s'), 5_000).unref();
    return;
  }
  fail(res, 404, 'not_found', 'no such route');
});
// Each probe connection is an fd taken from the edge's reserve (fd-budget.ts): a flood here cannot eat the
// client sockets' budget. Probes are short and few; more at once are closed on accept.
server.maxConnections = d.maxConnections;
server.on('clientError', (_err, socket) => socket.destroy());
server.once('error', (err: NodeJS.ErrnoException) => port.postMessage({ error: `${err.code ?? ''} ${err.message}`.trim() }));
server.listen({ port: d.port, host: d.host, backlog: 511 }, () => port.postMessage({ listening: (server.address() as AddressInfo).port }));
