import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import { createLogger, createRedis, encodeComment, keySpace, SessionStore, type Config, type GenerateJob, type Logger } from '@relaycast/shared';
import { createApp } from './app.js';
import { Hub } from './hub.js';
import { createEdgeMetrics, type EdgeMetrics } from './metrics.js';
import type { Subscriber } from './subscriber.js';

export interface Edge {
  port: number;
  url: string;
  server: Server;
  hub: Hub;
  stats: { slowDisconnects: number; connections: { open: number } };
  /** Set `draining` to make /readyz answer 503 (shutdown flips it first, so balancers stop sending work). */
  state: { draining: boolean };
  metrics: EdgeMetrics;
  close(): Promise<void>;
}

const HEARTBEAT = encodeComment('');

/**
 * Starts an edge: HTTP + SSE, stateless. It holds a constant three Redis connections whatever the load:
 * commands, pub/sub, and BullMQ's queue (for enqueueing jobs).
 */
export async function startEdge(cfg: Config, log: Logger = createLogger('edge', cfg.LOG_LEVEL)): Promise<Edge> {
  const keys = keySpace(cfg.REDIS_KEY_PREFIX);
  const redis = createRedis(cfg.REDIS_URL, 'edge-cmd');
  const sub = createRedis(cfg.REDIS_URL, 'edge-sub');
  const queueConn = createRedis(cfg.REDIS_URL, 'edge-queue');
  for (const c of [redis, sub, queueConn]) c.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const store = new SessionStore(redis, keys, { maxLen: cfg.STREAM_MAXLEN, retentionSeconds: cfg.RETENTION_SECONDS, openTtlSeconds: cfg.QUEUED_TTL_SECONDS });
  const queue = new Queue<GenerateJob>(keys.queueName, {
    connection: queueConn,
    prefix: keys.queuePrefix,
    defaultJobOptions: { attempts: cfg.JOB_ATTEMPTS, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: true, removeOnFail: { age: cfg.RETENTION_SECONDS } },
  });
  const hub = new Hub(sub, store, cfg.REPLAY_PAGE_SIZE, log);
  const stats = { slowDisconnects: 0, connections: { open: 0 } };
  const onSlow = (s: Subscriber) => {
    stats.slowDisconnects++;
    // Its unsent bytes passed the bound: drop it rather than buffer without limit or slow the others.
    s.destroy();
  };
  const state = { draining: false };
  const metrics = createEdgeMetrics({ counters: hub.counters, connections: stats.connections, stats, sessionSizes: () => hub.sessionSizes() });
  const app = createApp({ cfg, store, hub, queue, redis, log, connections: stats.connections, onSlow, metrics, state });
  const server = createServer({ keepAliveTimeout: 5_000, headersTimeout: 10_000, requestTimeout: 30_000 }, app);
  // requestTimeout covers receiving the request only; an SSE response may stay open for as long as it streams.
  const heartbeat = setInterval(() => {
    for (const s of hub.subscribers()) s.write(HEARTBEAT);
  }, cfg.HEARTBEAT_MS);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.PORT, cfg.HOST, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port, host: cfg.HOST }, 'edge listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${cfg.HOST.includes(':') ? `[${cfg.HOST}]` : cfg.HOST}:${port}`,
    server,
    hub,
    stats,
    state,
    metrics,
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        const closed = new Promise((r) => server.close(r));
        for (const s of [...hub.subscribers()]) s.end();
        server.closeAllConnections();
        await closed;
        await queue.close();
        await Promise.allSettled([redis.quit(), sub.quit(), queueConn.quit()]);
      })();
      return closing;
    },
  };
}
