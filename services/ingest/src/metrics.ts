import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RelaycastEvent } from '@relaycast/shared';
import type { UpstreamError } from './errors.js';

/** Timings of one appender's Redis round trips (append latency and retries). */
export interface AppendObserver {
  appended(seconds: number, ok: boolean): void;
  retried(): void;
}

export interface IngestMetrics extends AppendObserver {
  registry: Registry;
  activeGenerations: Gauge;
  timeToFirstToken: Histogram;
  generationDuration: Histogram<'outcome'>;
  tokensPerSecond: Histogram;
  outputTokens: Counter;
  generations: Counter<'outcome' | 'code'>;
  upstreamErrors: Counter<'code'>;
  upstreamRetries: Counter;
  resets: Counter;
}

/** One registry per worker, so several workers in one process (tests) never share or clash. */
export function createIngestMetrics(): IngestMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const appendSeconds = new Histogram({
    name: 'relaycast_ingest_append_seconds',
    help: 'Latency of one append round trip to Redis (a batch of coalesced events)',
    labelNames: ['result'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });
  const appendRetries = new Counter({ name: 'relaycast_ingest_append_retries_total', help: 'Append round trips retried after a Redis failure', registers });
  return {
    registry,
    activeGenerations: new Gauge({ name: 'relaycast_ingest_active_generations', help: 'Generations running on this worker', registers }),
    timeToFirstToken: new Histogram({
      name: 'relaycast_ingest_time_to_first_token_seconds',
      help: 'From taking the job to the first content token from the upstream',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    }),
    generationDuration: new Histogram({
      name: 'relaycast_ingest_generation_duration_seconds',
      help: 'From taking the job to its terminal event being stored, by terminal event',
      labelNames: ['outcome'],
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
      registers,
    }),
    tokensPerSecond: new Histogram({
      name: 'relaycast_ingest_tokens_per_second',
      help: 'Output tokens per second of a generation, after its first token',
      buckets: [1, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    }),
    outputTokens: new Counter({ name: 'relaycast_ingest_output_tokens_total', help: 'Output tokens generated (as reported, or estimated)', registers }),
    generations: new Counter({
      name: 'relaycast_ingest_generations_total',
      help: 'Generation attempts by outcome (done, error, cancelled, fenced, skipped, failed) and error code',
      labelNames: ['outcome', 'code'],
      registers,
    }),
    upstreamErrors: new Counter({ name: 'relaycast_ingest_upstream_errors_total', help: 'Failed upstream requests by error code', labelNames: ['code'], registers }),
    upstreamRetries: new Counter({ name: 'relaycast_ingest_upstream_retries_total', help: 'Upstream requests retried before the first token', registers }),
    resets: new Counter({ name: 'relaycast_ingest_resets_total', help: 'Attempts that took over a session and appended a reset event', registers }),
    appended(seconds, ok) {
      appendSeconds.observe({ result: ok ? 'ok' : 'error' }, seconds);
    },
    retried() {
      appendRetries.inc();
    },
  };
}

/** Follows one generation attempt and records it in the metrics (a no-op without them). */
export class GenerationTracker {
  private readonly started = performance.now();
  private firstTokenAt: number | undefined;
  private outputTokens: number | undefined;
  private terminal: RelaycastEvent | undefined;
  private active = false;

  constructor(private readonly m: IngestMetrics | undefined) {}

  began(attempt: number): void {
    if (!this.m) return;
    this.active = true;
    this.m.activeGenerations.inc();
    if (attempt > 1) this.m.resets.inc();
  }

  event(e: RelaycastEvent): void {
    if (e.type === 'delta' && this.firstTokenAt === undefined) {
      this.firstTokenAt = performance.now();
      this.m?.timeToFirstToken.observe((this.firstTokenAt - this.started) / 1000);
    } else if (e.type === 'usage') this.outputTokens = e.outputTokens;
  }

  upstreamFailed(e: UpstreamError, retrying: boolean): void {
    this.m?.upstreamErrors.inc({ code: e.code });
    if (retrying) this.m?.upstreamRetries.inc();
  }

  /** The terminal event about to be stored. */
  ending(e: RelaycastEvent): void {
    this.terminal = e;
    if (e.type === 'done' && e.usage) this.outputTokens = e.usage.outputTokens;
  }

  /** `result` is what generate() returned, or 'failed' when it threw (BullMQ retries the job). */
  ended(result: 'ended' | 'skipped' | 'fenced' | 'failed'): void {
    const m = this.m;
    if (!m) return;
    if (this.active) m.activeGenerations.dec();
    const t = this.terminal;
    if (result !== 'ended' || !t) {
      m.generations.inc({ outcome: result, code: '' });
      return;
    }
    const now = performance.now();
    m.generations.inc({ outcome: t.type, code: t.type === 'error' ? t.code : '' });
    m.generationDuration.observe({ outcome: t.type }, (now - this.started) / 1000);
    if (this.outputTokens) {
      m.outputTokens.inc(this.outputTokens);
      const seconds = this.firstTokenAt === undefined ? 0 : (now - this.firstTokenAt) / 1000;
      if (seconds > 0) m.tokensPerSecond.observe(this.outputTokens / seconds);
    }
  }
}
