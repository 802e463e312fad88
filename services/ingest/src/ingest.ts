import { Worker, type Job } from 'bullmq';
import { createLogger, createRedis, keySpace, SessionStore, type Config, type GenerateJob, type Logger } from '@relaycast/shared';
import { Control } from './control.js';
import { generate } from './generate.js';
import { createIngestMetrics, type IngestMetrics } from './metrics.js';
import { startOpsServer, type OpsServer } from './ops-server.js';
import { createDispatcher } from './upstream.js';

export interface Ingest {
  worker: Worker<GenerateJob>;
  /** Set `draining` to make /readyz answer 503 (shutdown flips it first). */
  state: { draining: boolean };
  metrics: IngestMetrics;
  /** Port of /metrics, /healthz and /readyz; undefined when METRICS_PORT could not be bound. */
  opsPort: number | undefined;
  close(): Promise<void>;
}

/**
 * Starts an ingest worker: BullMQ on one queue, `INGEST_CONCURRENCY` generations at once. Lock settings
 * are short so a killed worker's job is noticed as stalled (within LOCK_DURATION_MS + STALLED_INTERVAL_MS)
 * and handed to another worker.
 */
export async function startIngest(cfg: Config, log: Logger = createLogger('ingest', cfg.LOG_LEVEL)): Promise<Ingest> {
  const keys = keySpace(cfg.REDIS_KEY_PREFIX);
  const redis = createRedis(cfg.REDIS_URL, 'ingest-cmd');
  const sub = createRedis(cfg.REDIS_URL, 'ingest-control');
  const workerConn = createRedis(cfg.REDIS_URL, 'ingest-worker');
  for (const c of [redis, sub, workerConn]) c.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const store = new SessionStore(redis, keys, { maxLen: cfg.STREAM_MAXLEN, retentionSeconds: cfg.RETENTION_SECONDS, openTtlSeconds: cfg.QUEUED_TTL_SECONDS });
  const control = new Control(sub, keys);
  const dispatcher = createDispatcher(cfg);
  const metrics = createIngestMetrics();
  const deps = { cfg, store, control, dispatcher, log, metrics };

  const worker = new Worker<GenerateJob>(keys.queueName, (job) => generate(job.data, deps), {
    connection: workerConn,
    prefix: keys.queuePrefix,
    concurrency: cfg.INGEST_CONCURRENCY,
    lockDuration: cfg.LOCK_DURATION_MS,
    stalledInterval: cfg.STALLED_INTERVAL_MS,
    maxStalledCount: Math.max(0, cfg.JOB_ATTEMPTS - 1),
  });
  worker.on('error', (err) => log.warn({ err: err.message }, 'worker error'));
  // A job that will not be retried again (attempts or stalls exhausted) must still end its session.
  // A job is in BullMQ's failed set only when no retry is left (a retried one waits in delayed/wait).
  worker.on('failed', (job: Job<GenerateJob> | undefined, err) => {
    if (!job) return;
    void job.isFailed().then((final) => {
      log.warn({ sessionId: job.data.sessionId, reqId: job.data.requestId, attemptsMade: job.attemptsMade, err: err.message, final }, 'generation job failed');
      if (final) return endFailed(store, job.data.sessionId, log);
    }, () => undefined);
  });
  // Probes answer while the worker is still connecting, so an orchestrator sees 'alive, not ready'.
  const state = { draining: false };
  let ops: OpsServer | undefined;
  try {
    ops = await startOpsServer(cfg.METRICS_HOST, cfg.METRICS_PORT, {
      registry: metrics.registry,
      log,
      ready: async () => !state.draining && worker.isRunning() && (await withTimeout(redis.ping(), 1_000)) === 'PONG',
    });
  } catch (err) {
    // Metrics and probes are for operators; a worker that cannot bind them still runs jobs.
    log.error({ err, host: cfg.METRICS_HOST, port: cfg.METRICS_PORT }, 'ops server (metrics, healthz, readyz) could not listen');
  }
  await worker.waitUntilReady();
  log.info({ concurrency: cfg.INGEST_CONCURRENCY, opsPort: ops?.port }, 'ingest worker ready');

  let closing: Promise<void> | undefined;
  return {
    worker,
    state,
    metrics,
    opsPort: ops?.port,
    close() {
      closing ??= (async () => {
        await worker.close();
        await ops?.close();
        await dispatcher.close();
        await Promise.allSettled([redis.quit(), sub.quit(), workerConn.quit()]);
      })();
      return closing;
    },
  };
}

/** Takes the session with a fresh attempt (fencing any straggler) and appends the terminal `error`. */
async function endFailed(store: SessionStore, sessionId: string, log: Logger): Promise<void> {
  try {
    const b = await store.begin(sessionId);
    await store.append(sessionId, b.attempt, b.seq + 1, [{ type: 'error', code: 'worker_failed', message: 'generation failed after all attempts', retryable: false }]);
  } catch (err) {
    log.warn({ sessionId, err: (err as Error).message }, 'could not end failed session');
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}
