import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@relaycast/shared';
import type { Registry } from 'prom-client';

export interface OpsServerDeps {
  registry: Registry;
  /** Resolves when the worker can take jobs; rejects (or resolves false) when it cannot. */
  ready(): Promise<boolean>;
  log: Logger;
}

export interface OpsServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

const send = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/**
 * ingest has no API of its own; this small server gives it what operators need: GET /metrics (Prometheus),
 * /healthz (the process is alive) and /readyz (Redis reachable, worker running, not draining).
 */
export async function startOpsServer(host: string, port: number, d: OpsServerDeps): Promise<OpsServer> {
  const server = createServer({ headersTimeout: 5_000, requestTimeout: 10_000, keepAliveTimeout: 5_000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(res, 405, { error: { code: 'method_not_allowed', message: 'use GET' } });
    if (path === '/healthz') return send(res, 200, { ok: true });
    if (path === '/readyz') {
      d.ready().then(
        (ok) => (ok ? send(res, 200, { ok: true }) : send(res, 503, { error: { code: 'not_ready', message: 'worker is draining or not running' } })),
        () => send(res, 503, { error: { code: 'not_ready', message: 'redis unreachable' } }),
      );
      return;
    }
    if (path === '/metrics') {
      d.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': d.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          d.log.error({ err }, 'metrics collection failed');
          send(res, 500, { error: { code: 'internal', message: 'metrics collection failed' } });
        },
      );
      return;
    }
    send(res, 404, { error: { code: 'not_found', message: 'no such route' } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
