import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What ingest reports; every generation and append feeds it. */
export class IngestMetrics {
  readonly registry = new Registry();
  readonly active = new Gauge({ name: 'relaycast_ingest_active_generations', help: 'Generations running now', registers: [this.registry] });
  readonly ttft = new Histogram({ name: 'relaycast_ingest_time_to_first_token_seconds', help: 'From job start to the first content token', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [this.registry] });
  readonly duration = new Histogram({ name: 'relaycast_ingest_generation_duration_seconds', help: 'Whole generation, by outcome', labelNames: ['outcome'], buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600], registers: [this.registry] });
  readonly tokensPerSecond = new Histogram({ name: 'relaycast_ingest_tokens_per_second', help: 'Output tokens per second of each finished generation', buckets: [1, 5, 10, 25, 50, 100, 250, 1000, 10000], registers: [this.registry] });
  readonly upstreamErrors = new Counter({ name: 'relaycast_ingest_upstream_errors_total', help: 'Generations ended by an upstream failure, by error code', labelNames: ['code'], registers: [this.registry] });
  readonly appendLatency = new Histogram({ name: 'relaycast_ingest_append_latency_seconds', help: 'Round trip of one append (script call)', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1], registers: [this.registry] });
  readonly retries = new Counter({ name: 'relaycast_ingest_retries_total', help: 'Retries, by what was retried', labelNames: ['kind'], registers: [this.registry] });
  readonly resets = new Counter({ name: 'relaycast_ingest_resets_total', help: 'Sessions restarted on a new attempt (reset appended)', registers: [this.registry] });
  readonly fenced = new Counter({ name: 'relaycast_ingest_fenced_total', help: 'Generations stopped because a newer attempt owns the session (their appends were refused)', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'relaycast_ingest_' });
  }
}

const sendJson = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/**
 * `/metrics`, `/healthz` (alive) and `/readyz` (Redis reachable, worker running, not draining) for ingest,
 * which otherwise serves no HTTP.
 */
export async function serveMetrics(m: IngestMetrics, port: number, host: string, ready: () => Promise<boolean> = async () => true): Promise<{ server: Server; port: number }> {
  const server = createServer(async (req, res) => {
    if (req.method !== 'GET') {
      sendJson(res, 405, { error: { code: 'method_not_allowed', message: 'use GET' } });
    } else if (req.url === '/metrics') {
      try {
        const text = await m.registry.metrics();
        res.writeHead(200, { 'content-type': m.registry.contentType });
        res.end(text);
      } catch {
        sendJson(res, 500, { error: { code: 'internal', message: 'metrics collection failed' } });
      }
    } else if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    } else if (req.url === '/readyz') {
      const ok = await ready().catch(() => false);
      if (ok) sendJson(res, 200, { ok: true });
      else sendJson(res, 503, { error: { code: 'not_ready', message: 'draining, worker stopped or redis unreachable' } });
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"not_found","message":"no such route"}}');
    }
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return { server, port: (server.address() as AddressInfo).port };
}
