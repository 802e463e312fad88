import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Logger } from '@relaycast/shared';
import { pingWithin, type RedisClient } from '@relaycast/store';
import { CELL, CELL_COUNT, type HealthWorkerData } from './health-cells.js';

/** The main loop says it is turning this often; /healthz fails after STALL_MS without a turn. */
const BEAT_MS = 100;
const STALL_MS = 2_000;
/** Redis is pinged this often for /readyz, which fails after READY_MAX_AGE_MS without a PONG. */
const PING_MS = 1_000;
const READY_MAX_AGE_MS = 3_000;
/** Probe connections held at once; they come out of fd-budget.ts's RESERVED_FDS. */
const HEALTH_MAX_CONNECTIONS = 16;

export interface HealthListener {
  port: number;
  close(): Promise<void>;
}

/**
 * /healthz, /readyz and /metrics on HEALTH_PORT, for load balancers, orchestrators and Prometheus. Its own
 * listening socket, so a connection flood on PORT filling that accept queue drops no probe's SYN, and its own
 * thread, so the main loop's accept bursts delay no probe (docs/reliability.md §11). The main thread writes
 * what the answers depend on (its loop turning, Redis answering, draining) into shared cells.
 */
export async function startHealthListener(o: {
  port: number;
  host: string;
  redis: Pick<RedisClient, 'ping'>;
  draining: () => boolean;
  metrics: () => Promise<{ body: string; contentType: string }>;
  log: Logger;
}): Promise<HealthListener> {
  const shared = new SharedArrayBuffer(CELL_COUNT * 8);
  const cells = new BigInt64Array(shared);
  const beat = () => {
    Atomics.store(cells, CELL.beat, BigInt(Date.now()));
    Atomics.store(cells, CELL.draining, o.draining() ? 1n : 0n);
  };
  const ping = async () => {
    if (await pingWithin(o.redis, PING_MS)) Atomics.store(cells, CELL.redisOkAt, BigInt(Date.now()));
  };
  beat();
  await ping();
  const beats = setInterval(beat, BEAT_MS).unref();
  const pings = setInterval(() => void ping(), PING_MS).unref();
  const workerData: HealthWorkerData = { port: o.port, host: o.host, cells: shared, stallMs: STALL_MS, readyMaxAgeMs: READY_MAX_AGE_MS, maxConnections: HEALTH_MAX_CONNECTIONS };
  const worker = new Worker(new URL('./health-worker.js', import.meta.url), { workerData, resourceLimits: { maxOldGenerationSizeMb: 32 } });
  const stop = () => {
    clearInterval(beats);
    clearInterval(pings);
  };
  const [first] = (await once(worker, 'message').catch((err: Error) => [{ error: err.message }])) as [{ listening?: number; error?: string }];
  if (first.listening === undefined) {
    stop();
    await worker.terminate();
    throw new Error(`HEALTH_PORT ${o.port}: ${first.error ?? 'the probe listener did not start'}`);
  }
  worker.on('message', (m: { id: number }) => {
    o.metrics().then(
      (r) => worker.postMessage({ id: m.id, ...r }),
      (err: Error) => o.log.warn({ err: err.message }, 'metrics for the probe listener failed'),
    );
  });
  // Its probes then fail or go unanswered, which is how an orchestrator learns to restart this edge.
  worker.on('error', (err) => o.log.error({ err: err.message }, 'probe listener thread failed'));
  worker.unref();
  return {
    port: first.listening,
    async close() {
      stop();
      await worker.terminate();
    },
  };
}
