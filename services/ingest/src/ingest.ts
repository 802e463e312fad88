import { Worker, type Job } from 'bullmq';
import { errorEvent } from '@relaycast/protocol';
import { pingWithin, createRedis, keySpace, Limiter, storeFor, type KeySpace, type RedisClient, type SessionStore, closeRedis, settleWithin } from '@relaycast/store';
import { createLogger, type GenerateJob, type Logger } from '@relaycast/shared';
import type { IngestConfig } from './config.js';
import { Control } from './control.js';
import { LockLost } from './errors.js';
import { generate, type GenerateDeps } from './generate.js';
import { JobLock } from './job-lock.js';
import { IngestMetrics, serveMetrics } from './metrics.js';
import { compilePipelines, type ProcessorDefinition } from '@relaycast/processors';
import { Dispatchers } from './upstream.js';

export interface Ingest {
  worker: Worker<GenerateJob>;
  metrics: IngestMetrics;
  /** Port of `/metrics`, `/healthz` and `/readyz`. */
  metricsPort: number;
  /** `draining` makes /readyz answer 503; drain() and close() set it first. */
  state: { draining: boolean };
  /**
   * Graceful exit: take no new jobs, let running generations finish for up to `deadlineMs`, then hand the
   * rest back (their jobs fail back to the queue; another worker resumes each with a `reset`).
   */
  drain(deadlineMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface IngestOptions {
  /** Processor kinds beyond the built-in ones that routes may name (docs/providers.md, "Writing a processor"). */
  processors?: readonly ProcessorDefinition<any>[];
}

/**
 * Starts an ingest worker: BullMQ on one queue, `INGEST_CONCURRENCY` generations at once. Lock settings
 * are short so a killed worker's job is noticed as stalled (within LOCK_DURATION_MS + STALLED_INTERVAL_MS)
 * and handed to another worker.
 */
export async function startIngest(cfg: IngestConfig, log: Logger = createLogger('ingest', cfg.LOG_LEVEL), opts: IngestOptions = {}): Promise<Ingest> {
  // Before any connection: a route naming an unknown processor or bad options stops the start.
  const pipelines = compilePipelines(cfg, opts.processors);
  const c = connect(cfg, log);
  const dispatchers = new Dispatchers(cfg);
  const metrics = new IngestMetrics();
  const shutdown = new AbortController();
  const deps: GenerateDeps = { cfg, store: c.store, control: new Control(c.sub, c.keys), dispatchers, pipelines, log, metrics, shutdown: shutdown.signal };
  const state = { draining: false };
  // Declared before the worker so probes answer while it connects; `worker` is read only when probed.
  let worker: Worker<GenerateJob> | undefined;
  const metricsServer = await serveMetrics(metrics, cfg.METRICS_PORT, cfg.HOST, async () => !state.draining && worker?.isRunning() === true && (await pingWithin(c.redis, 1_000)));
  const w = (worker = startWorker(c, deps));
  await w.waitUntilReady();
  log.info({ concurrency: cfg.INGEST_CONCURRENCY }, 'ingest worker ready');

  let closing: Promise<void> | undefined;
  const close = (deadlineMs = 0) => {
    closing ??= (async () => {
      state.draining = true;
      // worker.close() stops fetching and waits for running jobs; past the deadline they are handed back.
      const timer = setTimeout(() => shutdown.abort(), deadlineMs);
      // Handed-back generations end within moments of the abort; if Redis is unreachable BullMQ cannot
      // record that, so stop waiting a little after the deadline and force the worker closed.
      if (!(await settleWithin(w.close(), deadlineMs + 5_000))) await settleWithin(w.close(true), 2_000);
      clearTimeout(timer);
      await dispatchers.close();
      await new Promise((r) => metricsServer.server.close(r));
      metricsServer.server.closeAllConnections();
      await closeRedis([c.redis, c.sub, c.workerConn]);
    })();
    return closing;
  };
  return { worker: w, metrics, metricsPort: metricsServer.port, state, drain: (deadlineMs = cfg.INGEST_DRAIN_MS) => close(deadlineMs), close: () => close(0) };
}

/** The Redis connections of one ingest process and what is built on them. */
interface Connections {
  keys: KeySpace;
  redis: RedisClient;
  sub: RedisClient;
  workerConn: RedisClient;
  store: SessionStore;
  limiter: Limiter;
}

function connect(cfg: IngestConfig, log: Logger): Connections {
  const keys = keySpace(cfg.REDIS_KEY_PREFIX);
  const redis = createRedis(cfg.redis, 'ingest-cmd');
  const sub = createRedis(cfg.redis, 'ingest-control', { subscriber: true });
  const workerConn = createRedis(cfg.redis, 'ingest-worker');
  for (const conn of [redis, sub, workerConn]) conn.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  return { keys, redis, sub, workerConn, store: storeFor(cfg, redis), limiter: new Limiter(redis, keys) };
}

/** BullMQ on one queue, `INGEST_CONCURRENCY` generations at once, each under its own job lock. */
function startWorker(c: Connections, deps: GenerateDeps): Worker<GenerateJob> {
  const { cfg, log, shutdown } = deps;
  const worker = new Worker<GenerateJob>(c.keys.queueName, async (job, token) => {
    const outcome = await withOwnLock(job, token, cfg.LOCK_DURATION_MS, shutdown, (stop) => generate(job.data, { ...deps, shutdown: stop }));
    // Ended (by this attempt or before it): the creating key's running slot is free again. A fenced
    // attempt leaves that to the attempt that owns the session now.
    if (outcome !== 'fenced') await release(c.limiter, job.data, log);
    return outcome;
  }, {
    connection: c.workerConn,
    prefix: c.keys.queuePrefix,
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
      if (final) return endFailed(c.store, job.data.sessionId, log).then(() => release(c.limiter, job.data, log));
    }, () => undefined);
  });
  return worker;
}

/** Takes the session with a fresh attempt (fencing any straggler) and appends the terminal `error`. */
async function endFailed(store: SessionStore, sessionId: string, log: Logger): Promise<void> {
  try {
    const b = await store.begin(sessionId);
    await store.append(sessionId, b.attempt, b.seq + 1, [errorEvent('worker_failed', 'generation failed after all attempts', false)]);
  } catch (err) {
    log.warn({ sessionId, err: (err as Error).message }, 'could not end failed session');
  }
}

/** Frees the session's running slot of its API key; if this is lost, the slot's lease frees it (limits.ts). */
async function release(limiter: Limiter, job: GenerateJob, log: Logger): Promise<void> {
  if (!job.keyId) return;
  try {
    await limiter.release(job.keyId, job.sessionId);
  } catch (err) {
    log.warn({ sessionId: job.sessionId, err: (err as Error).message }, 'could not free the running slot; its lease will');
  }
}

/**
 * Runs `run` while renewing the job's lock for this attempt (job-lock.ts says why). `run`'s signal aborts on
 * shutdown, as before, and also when the lock turns out lost (reason LockLost): a generation stopped that
 * way appends nothing more and counts as fenced; the attempt that takes the job over continues the session.
 */
async function withOwnLock<T>(job: Job, token: string | undefined, lockMs: number, shutdown: AbortSignal, run: (stop: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const onShutdown = () => stop.abort();
  shutdown.addEventListener('abort', onShutdown);
  if (shutdown.aborted) stop.abort();
  const lock = token ? new JobLock(job, token, lockMs, () => stop.abort(new LockLost('job lock lost'))).start() : undefined;
  try {
    return await run(stop.signal);
  } finally {
    lock?.stop();
    shutdown.removeEventListener('abort', onShutdown);
  }
}

