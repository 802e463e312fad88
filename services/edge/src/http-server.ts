import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ErrorCode } from '@relaycast/protocol';
import type { EdgeConfig } from './config.js';
import type { Hub } from './hub.js';
import { SECURITY_HEADERS } from './security-headers.js';

const RAW_SECURITY_HEADERS = Object.entries(SECURITY_HEADERS).map(([k, v]) => `${k}: ${v}\r\n`).join('');

/**
 * The edge's HTTP server: event streams first (routes/events.ts answers them before Express, most of an
 * edge's requests and each held for hours), everything else through `app`.
 */
export function edgeServer(app: (req: IncomingMessage, res: ServerResponse) => void, events: (req: IncomingMessage, res: ServerResponse) => boolean, hub: Hub): Server {
  // requestTimeout covers receiving the request only; an SSE response may stay open for as long as it streams.
  // 0: a streaming publish's body lasts as long as the model behind it (publish/stream.ts keeps its own idle
  // and total limits); every other /v1 body is bounded by the REQUEST_TIMEOUT_MS deadline, which closes.
  const server = createServer({ keepAliveTimeout: 5_000, headersTimeout: 10_000, requestTimeout: 0 }, (req, res) => {
    if (!events(req, res)) app(req, res);
  });
  // Node's contract for closeAllConnections() is every connection of this server, including the streams the
  // events route took out of its HTTP machinery: they are dropped too (a crash, as a client sees it).
  const closeTracked = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    closeTracked();
    for (const s of [...hub.subscribers()]) s.destroy();
  };
  // Requests node's parser rejects (bad header bytes such as CR, LF or NUL, oversized headers) get the same
  // JSON error shape as everything else instead of a bare status line.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const tooBig = err.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({ error: { code: (tooBig ? 'headers_too_large' : 'bad_request') satisfies ErrorCode, message: tooBig ? 'request headers too large' : 'malformed HTTP request' } });
    socket.end(`HTTP/1.1 ${tooBig ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${RAW_SECURITY_HEADERS}Connection: close\r\n\r\n${body}`);
  });
  return server;
}

/** Listens on PORT/HOST; resolves the port actually bound (PORT=0 picks one). */
export async function listen(server: Server, cfg: Pick<EdgeConfig, 'PORT' | 'HOST'>): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Linux's usual somaxconn: during a connection flood, a new client's SYN waits in the queue rather than
    // being dropped and retried a second later (node's default backlog is 511).
    server.listen({ port: cfg.PORT, host: cfg.HOST, backlog: 4_096 }, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
