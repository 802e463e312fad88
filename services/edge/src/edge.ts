import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { closeRedis, createRedis, settleWithin, keySpace, Limiter, storeFor } from '@relaycast/store';
import { createLogger, type GenerateJob, type Logger } from '@relaycast/shared';
import type { EdgeConfig } from './config.js';
import { encodeComment } from './sse.js';
import { createApp } from './app.js';
import { edgeServer, listen } from './http-server.js';
import { eventsRoute } from './routes/events.js';
import { EdgeAuth } from './auth.js';
import { ConnectionLimits } from './connection-limits.js';
import { resolveCredentials } from './credentials.js';
import { Hub } from './hub.js';
import { createEdgeMetrics } from './metrics.js';
import { EdgeStats } from './stats.js';
import { fdBudget, readFdLimits } from './fd-budget.js';
import { SocketGuard } from './socket-guard.js';
import { startHealthListener } from './health-listener.js';
import { heartbeat, type Subscriber } from './subscriber.js';
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

/**
 * Starts an edge: HTTP + SSE, stateless. It holds a constant three Redis connections whatever the load:
 * commands, pub/sub, and BullMQ's queue (for enqueueing jobs). Throws a ConfigError, before connecting to
 * anything, when production lacks its API keys or token secret.
 */
/** Streams and sockets fit the open-file limit with room to spare, so accept() never meets EMFILE. */
function withFdBudget(cfg: EdgeConfig, log: Logger): { cfg: EdgeConfig; budget: ReturnType<typeof fdBudget> } {
  const budget = fdBudget(cfg.MAX_CONNECTIONS, readFdLimits());
  if (budget.maxStreams < cfg.MAX_CONNECTIONS) log.warn({ configured: cfg.MAX_CONNECTIONS, used: budget.maxStreams, fdLimit: budget.soft }, 'MAX_CONNECTIONS lowered to fit the open-file limit');
  log.info({ fdSoft: budget.soft, fdHard: budget.hard, maxSockets: budget.maxSockets, maxConnections: budget.maxStreams }, 'connection budget');
  return { cfg: Object.freeze({ ...cfg, MAX_CONNECTIONS: budget.maxStreams }), budget };
}

/** Three Redis connections whatever the load (commands, the one pub/sub connection, BullMQ's) and what uses them. */
function connectStorage(cfg: EdgeConfig, log: Logger) {
  const keys = keySpace(cfg.REDIS_KEY_PREFIX);
  const [redis, sub, queueConn] = [createRedis(cfg.redis, 'edge-cmd'), createRedis(cfg.redis, 'edge-sub', { subscriber: true }), createRedis(cfg.redis, 'edge-queue')];
  for (const c of [redis, sub, queueConn]) c.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const queue = new Queue<GenerateJob>(keys.queueName, {
    connection: queueConn,
    prefix: keys.queuePrefix,
    defaultJobOptions: { attempts: cfg.JOB_ATTEMPTS, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: true, removeOnFail: { age: cfg.RETENTION_SECONDS } },
  });
  return { redis, sub, queueConn, store: storeFor(cfg, redis), queue, limiter: new Limiter(redis, keys) };
}

export async function startEdge(given: EdgeConfig, log: Logger = createLogger('edge', given.LOG_LEVEL)): Promise<Edge> {
  const { cfg, budget } = withFdBudget(given, log);
  const credentials = resolveCredentials(cfg, log);
  const auth = new EdgeAuth(credentials.keys, credentials.tokens, cfg.TOKEN_TTL_SECONDS * 1000);
  const { redis, sub, queueConn, store, queue, limiter } = connectStorage(cfg, log);
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
  // Its unsent bytes passed the bound: drop it rather than buffer without limit or slow the others.
  const onSlow = (s: Subscriber) => void (stats.slowDisconnects++, s.destroy());
  const app = createApp({ cfg, store, hub, queue, redis, log, stats, metrics, state, onSlow, auth, limiter, connections });
  const producerSweeper = startProducerSweeper(producerStoreFor(redis, store), limiter, log, cfg.PRODUCER_SWEEP_MS);
  const events = eventsRoute({ cfg, store, hub, log, stats, auth, connections, onSlow, state, count: metrics.count, trust: app.get('trust proxy fn') as (addr: string, i: number) => boolean });
  const server = edgeServer(app, events, hub);
  const guard = new SocketGuard(server, stats.sockets, budget.maxSockets, cfg.HEADERS_TIMEOUT_MS, log);
  // Comments keep proxies from timing idle streams out (the spec advises one about every 15 s); a stream
  // that carried events since is not idle and is skipped (subscriber.ts), hence a tick every half interval.
  const beats = setInterval(() => heartbeat(hub.subscribers(), HEARTBEAT), cfg.HEARTBEAT_MS / 2).unref();

  const health = cfg.HEALTH_PORT === undefined ? undefined : await startHealthListener({ port: cfg.HEALTH_PORT, host: cfg.HOST, redis, draining: () => state.draining, metrics: async () => ({ body: await metrics.registry.metrics(), contentType: metrics.registry.contentType }), log });
  const port = await listen(server, cfg);
  log.info({ port, host: cfg.HOST, healthPort: health?.port }, 'edge listening');
  warnIfPageMissing(cfg, log);

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      state.draining = true;
      clearInterval(beats);
      producerSweeper.stop();
      hub.stopChecks();
      connections.stop();
      guard.stop();
      const closed = new Promise((r) => server.close(r));
      for (const s of [...hub.subscribers()]) s.end();
      server.closeAllConnections();
      await Promise.all([closed, health?.close()]);
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
      draining ??= drainAcross(server, hub, state, log, windowMs).then(close);
      return draining;
    },
    close,
  };
}

/**
 * Stops accepting connections (idle keep-alive sockets are closed) and ends every open stream at a random
 * moment of the window, so its clients move to other edges gradually. A clean end (no terminal event) makes
 * EventSource and our clients reconnect with Last-Event-ID.
 */
async function drainAcross(server: Server, hub: Hub, state: { draining: boolean }, log: Logger, windowMs: number): Promise<void> {
  state.draining = true;
  server.close();
  server.closeIdleConnections();
  const subs = [...hub.subscribers()];
  log.info({ subscribers: subs.length, windowMs }, 'draining: ending subscriber streams across the window');
  await Promise.all(subs.map((s) => new Promise<void>((resolve) => setTimeout(() => {
    s.end();
    resolve();
  }, Math.random() * windowMs))));
}

function warnIfPageMissing(cfg: EdgeConfig, log: Logger): void {
  const page = join(resolveWebDir(cfg.WEB_DIR), 'index.html');
  if (!existsSync(page)) log.warn({ page }, 'web page not built: / answers 503 web_not_built until npm run build makes it');
}
