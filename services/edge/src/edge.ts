import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { closeRedis, createLogger, createRedis, settleWithin, encodeComment, keySpace, Limiter, storeFor, type Config, type GenerateJob, type Logger } from '@relaycast/shared';
import { createApp } from './app.js';
import { eventsRoute } from './routes/events.js';
import { EdgeAuth } from './auth.js';
import { ConnectionLimits } from './connection-limits.js';
import { resolveCredentials } from './credentials.js';
import { Hub } from './hub.js';
import { createEdgeMetrics } from './metrics.js';
import { EdgeStats } from './stats.js';
import { fdBudget, readFdLimits } from './fd-budget.js';
import { SocketGuard } from './socket-guard.js';
import type { Subscriber } from './subscriber.js';
import { SECURITY_HEADERS } from './security-headers.js';
import { resolveWebDir } from './web.js';
import { producerStoreFor, startProducerSweeper } from './publish/index.js';

export interface Edge {
  port: number;
  url: string;
  server: Server;
  hub: Hub;
  stats: EdgeStats;
  /** This edge's id in the shared connection counts. */
  edgeId: string;
  /** Admission of event streams (connection slots); tests hold it to stage a client leaving mid-lookup. */
  connections: ConnectionLimits;
  state: { draining: boolean };
  /**
   * Graceful exit: readiness fails and new requests get 503 at once; open SSE responses are ended at random
   * moments across `windowMs` (so their reconnects spread over the other edges), then everything closes.
   */
  drain(windowMs?: number): Promise<void>;
  close(): Promise<void>;
}

const HEARTBEAT = encodeComment('');
const RAW_SECURITY_HEADERS = Object.entries(SECURITY_HEADERS).map(([k, v]) => `${k}: ${v}\r\n`).join('');

/**
 * Starts an edge: HTTP + SSE, stateless. It holds a constant three Redis connections whatever the load:
 * commands, pub/sub, and BullMQ's queue (for enqueueing jobs). Throws a ConfigError, before connecting to
 * anything, when production lacks its API keys or token secret.
 */
export async function startEdge(cfg: Config, log: Logger = createLogger('edge', cfg.LOG_LEVEL)): Promise<Edge> {
  // Streams and sockets fit the open-file limit with room to spare, so accept() never meets EMFILE.
  const budget = fdBudget(cfg.MAX_CONNECTIONS, readFdLimits());
  if (budget.maxStreams < cfg.MAX_CONNECTIONS) log.warn({ configured: cfg.MAX_CONNECTIONS, used: budget.maxStreams, fdLimit: budget.soft }, 'MAX_CONNECTIONS lowered to fit the open-file limit');
  log.info({ fdSoft: budget.soft, fdHard: budget.hard, maxSockets: budget.maxSockets, maxConnections: budget.maxStreams }, 'connection budget');
  cfg = Object.freeze({ ...cfg, MAX_CONNECTIONS: budget.maxStreams });
  const credentials = resolveCredentials(cfg, log);
  const auth = new EdgeAuth(credentials.keys, credentials.tokens, cfg.TOKEN_TTL_SECONDS * 1000);
  const keys = keySpace(cfg.REDIS_KEY_PREFIX);
  const redis = createRedis(cfg.redis, 'edge-cmd');
  const sub = createRedis(cfg.redis, 'edge-sub', { subscriber: true });
  const queueConn = createRedis(cfg.redis, 'edge-queue');
  for (const c of [redis, sub, queueConn]) c.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const store = storeFor(cfg, redis);
  const queue = new Queue<GenerateJob>(keys.queueName, {
    connection: queueConn,
    prefix: keys.queuePrefix,
    defaultJobOptions: { attempts: cfg.JOB_ATTEMPTS, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: true, removeOnFail: { age: cfg.RETENTION_SECONDS } },
  });
  const limiter = new Limiter(redis, keys);
  const connections = new ConnectionLimits(limiter, cfg, log);
  connections.start();
  const stats = new EdgeStats();
  stats.maxSockets = budget.maxSockets;
  const state = { draining: false };
  const hub = new Hub(sub, store, cfg.REPLAY_PAGE_SIZE, stats, log, cfg.REPLAY_CACHE_BYTES);
  hub.startChecks(cfg.LIVENESS_CHECK_MS);
  // Read at scrape time only, once `server` exists: a listener added per request and never removed shows here.
  const listeners = () => [server, redis, sub, queueConn].reduce((n, e) => n + e.eventNames().reduce((m, name) => m + e.listenerCount(name), 0), 0);
  const metrics = createEdgeMetrics(stats, hub, () => state.draining, listeners);
  const onSlow = (s: Subscriber) => {
    stats.slowDisconnects++;
    // Its unsent bytes passed the bound: drop it rather than buffer without limit or slow the others.
    s.destroy();
  };
  const app = createApp({ cfg, store, hub, queue, redis, log, stats, metrics, state, onSlow, auth, limiter, connections });
  const producerSweeper = startProducerSweeper(producerStoreFor(redis, store), limiter, log, cfg.PRODUCER_SWEEP_MS);
  // Event streams are answered before Express: most of an edge's requests, each held for hours.
  const events = eventsRoute({ cfg, store, hub, log, stats, auth, connections, onSlow, state, count: metrics.count, trust: app.get('trust proxy fn') as (addr: string, i: number) => boolean });
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
  const guard = new SocketGuard(server, stats.sockets, budget.maxSockets, cfg.HEADERS_TIMEOUT_MS, log);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const tooBig = err.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({ error: { code: tooBig ? 'headers_too_large' : 'bad_request', message: tooBig ? 'request headers too large' : 'malformed HTTP request' } });
    socket.end(`HTTP/1.1 ${tooBig ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${RAW_SECURITY_HEADERS}Connection: close\r\n\r\n${body}`);
  });
  const heartbeat = setInterval(() => {
    for (const s of hub.subscribers()) s.write(HEARTBEAT);
  }, cfg.HEARTBEAT_MS);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Linux's usual somaxconn: during a connection flood, a new client's SYN waits in the queue rather than
    // being dropped and retried a second later (node's default backlog is 511).
    server.listen({ port: cfg.PORT, host: cfg.HOST, backlog: 4_096 }, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port, host: cfg.HOST }, 'edge listening');
  const page = join(resolveWebDir(cfg.WEB_DIR), 'index.html');
  if (!existsSync(page)) log.warn({ page }, 'web page not built: / answers 503 web_not_built until npm run build makes it');

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      state.draining = true;
      clearInterval(heartbeat);
      producerSweeper.stop();
      hub.stopChecks();
      connections.stop();
      guard.stop();
      const closed = new Promise((r) => server.close(r));
      for (const s of [...hub.subscribers()]) s.end();
      server.closeAllConnections();
      await closed;
      await settleWithin(queue.close(), 2_000);
      await closeRedis([redis, sub, queueConn]);
    })();
    return closing;
  };
  let draining: Promise<void> | undefined;
  return {
    port,
    url: `http://${cfg.HOST.includes(':') ? `[${cfg.HOST}]` : cfg.HOST}:${port}`,
    server,
    hub,
    stats,
    edgeId: connections.edgeId,
    connections,
    state,
    drain(windowMs = cfg.DRAIN_WINDOW_MS) {
      draining ??= (async () => {
        state.draining = true;
        // Stop accepting connections; idle keep-alive sockets are closed, open streams keep going for now.
        server.close();
        server.closeIdleConnections();
        const subs = [...hub.subscribers()];
        log.info({ subscribers: subs.length, windowMs }, 'draining: ending subscriber streams across the window');
        // A clean end (no terminal event) makes EventSource and our clients reconnect with Last-Event-ID.
        await Promise.all(subs.map((s) => new Promise<void>((resolve) => setTimeout(() => {
          s.end();
          resolve();
        }, Math.random() * windowMs))));
        await close();
      })();
      return draining;
    },
    close,
  };
}
