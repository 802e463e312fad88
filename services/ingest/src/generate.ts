import { setTimeout as delay } from 'node:timers/promises';
import { mergeInto, owned, pipeline, type PipelineFactory } from '@relaycast/processors';
import { errorEvent, isTerminal, type RelaycastEvent } from '@relaycast/protocol';
import { FencedError, SessionEndedError, SessionMissingError, type SessionStore } from '@relaycast/store';
import type { GenerateJob, Logger } from '@relaycast/shared';
import type { IngestConfig } from './config.js';
import type { Control } from './control.js';
import { ending, Stopper, type Ending, type Finished } from './ending.js';
import { HandBack, LockLost } from './errors.js';
import type { IngestMetrics } from './metrics.js';
import { estimateTokens } from './providers/estimate.js';
import { OutputMeter, upstream, type Dispatchers } from './upstream.js';

export interface GenerateDeps {
  cfg: IngestConfig;
  store: SessionStore;
  control: Control;
  dispatchers: Dispatchers;
  /** Each route's processing pipeline, prepared at start-up. */
  pipelines: ReadonlyMap<string, PipelineFactory>;
  log: Logger;
  metrics: IngestMetrics;
  /** Aborted when this worker shuts down and must hand its unfinished generations back. */
  shutdown: AbortSignal;
}

type Outcome = 'ended' | 'skipped' | 'fenced';

/** One running attempt: what its helpers share. */
interface Run {
  job: GenerateJob;
  d: GenerateDeps;
  log: Logger;
  appender: Appender;
  /** performance.now() when the attempt began. */
  started: number;
}

/**
 * Runs one attempt of one session: take ownership, stream the upstream into the session's stream, and
 * end with exactly one terminal event whatever happens. Redis failures that outlast the append retries
 * are thrown, so BullMQ retries the job (the next attempt appends a `reset`).
 */
export async function generate(job: GenerateJob, d: GenerateDeps): Promise<Outcome> {
  const { sessionId } = job;
  const log = d.log.child(job.requestId ? { sessionId, reqId: job.requestId } : { sessionId });
  let began: Awaited<ReturnType<SessionStore['begin']>>;
  try {
    began = await d.store.begin(sessionId);
  } catch (e) {
    // Ended (cancelled while queued, or finished by an earlier attempt) or expired: nothing left to do.
    if (e instanceof SessionEndedError || e instanceof SessionMissingError) return 'skipped';
    throw e;
  }
  const m = d.metrics;
  const appender = new Appender(d.store, sessionId, began.attempt, began.seq, 30_000, {
    latency: (s) => m.appendLatency.observe(s),
    retry: () => m.retries.inc({ kind: 'append' }),
  });
  const run: Run = { job, d, log, appender, started: performance.now() };
  m.active.inc();
  try {
    if (began.attempt > 1) {
      m.resets.inc();
      appender.push({ type: 'reset', reason: 'retry', attempt: began.attempt });
    }
    if (began.cancelRequested) return await endWith(run, { type: 'cancelled', reason: 'client_request' });
    const factory = d.pipelines.get(job.model);
    if (!d.cfg.routes[job.model] || !factory) return await endWith(run, errorEvent('unknown_model', `no route for model ${job.model}`, false));
    const { end, output } = await stream(run, factory);
    return await conclude(run, end, output);
  } catch (e) {
    if (e instanceof FencedError || e instanceof SessionEndedError) return fenced(run, e.message);
    throw e;
  } finally {
    m.active.dec();
  }
}

/**
 * The generation proper: `upstream` through the route's processors into the appender, until the upstream
 * ends or a stop reason (cancel, hand-back, lock lost, timeout, processor finish or failure, append
 * failure) cuts it short.
 */
async function stream(run: Run, factory: PipelineFactory): Promise<{ end: Ending; output: OutputMeter }> {
  const { job, d, log } = run;
  const m = d.metrics;
  const stopper = new Stopper();
  const deadline = setTimeout(() => stopper.stop({ kind: 'timeout' }), d.cfg.GENERATION_TIMEOUT_MS);
  const handBack = () => stopper.stop(d.shutdown.reason instanceof LockLost ? { kind: 'lock-lost', message: d.shutdown.reason.message } : { kind: 'hand-back' });
  if (d.shutdown.aborted) handBack();
  d.shutdown.addEventListener('abort', handBack);
  const output = new OutputMeter(() => m.ttft.observe((performance.now() - run.started) / 1000));
  const f: Finished = { upstreamEnd: undefined, failure: undefined };
  let unwatch: (() => void) | undefined;
  try {
    unwatch = await d.control.watch(job.sessionId, () => stopper.stop({ kind: 'cancel' }));
    // The flag may have been set between begin and the subscription becoming active.
    if ((await d.store.meta(job.sessionId))?.cancelRequested) stopper.stop({ kind: 'cancel' });
    const events = upstream(job.model, job, {
      cfg: d.cfg,
      dispatchers: d.dispatchers,
      signal: stopper.signal,
      output,
      onRetry: () => m.retries.inc({ kind: 'upstream' }),
      onFallback: (e, from, to) => {
        m.retries.inc({ kind: 'fallback' });
        log.info({ from, to, code: e.code, err: e.message }, 'route failed before any content; falling back');
      },
    });
    for await (const e of pipeline(events, factory, stopper, job.params.stop)) {
      if (e.type === 'done' || e.type === 'error') f.upstreamEnd = e;
      else if (!run.appender.failure) run.appender.push(e);
      if (run.appender.failure) stopper.stop({ kind: 'append-failed', cause: run.appender.failure });
    }
  } catch (err) {
    f.failure = err;
  } finally {
    clearTimeout(deadline);
    d.shutdown.removeEventListener('abort', handBack);
    unwatch?.();
  }
  return { end: ending(f, stopper, () => estimateTokens(job, output.chars), log), output };
}

/** Acts on the ending: append the terminal event, or append nothing and let BullMQ or the new owner go on. */
async function conclude(run: Run, end: Ending, output: OutputMeter): Promise<Outcome> {
  // No terminal event: the job fails back to BullMQ and another worker runs it as a new attempt.
  if (end.kind === 'hand-back') throw new HandBack('worker shutting down');
  // Another attempt owns the session now (our lock was lost); it will finish the session.
  if (end.kind === 'fenced') return fenced(run, end.message);
  if (end.kind === 'append-failed') throw end.cause;
  return endWith(run, end.terminal, output);
}

async function endWith(run: Run, terminal: RelaycastEvent, output?: OutputMeter): Promise<Outcome> {
  await run.appender.finish(terminal);
  if (!output) return 'ended';
  const m = run.d.metrics;
  const now = performance.now();
  m.duration.observe({ outcome: terminal.type }, (now - run.started) / 1000);
  if (terminal.type === 'error') m.upstreamErrors.inc({ code: terminal.code });
  if (terminal.type === 'done') {
    const tokens = terminal.usage?.outputTokens ?? output.reportedTokens;
    if (tokens > 0 && output.firstAt) m.tokensPerSecond.observe(tokens / Math.max((now - output.firstAt) / 1000, 0.001));
  }
  run.log.debug({ terminal: terminal.type }, 'generation ended');
  return 'ended';
}

function fenced(run: Run, message: string): Outcome {
  run.log.warn({ err: message }, 'generation fenced off');
  run.d.metrics.fenced.inc();
  return 'fenced';
}

/**
 * Appends one attempt's events to its session, in order, with at most one round trip in flight.
 * Events pushed while a round trip is in flight wait for it, consecutive pieces merged into one event,
 * and go in the next. (Merging across a time window is the `coalesce` processor's job, ahead of this.)
 * A failed append is retried with the same seqs (idempotent) until `retryForMs` has passed.
 */
class Appender {
  private pending: RelaycastEvent[] = [];
  private nextSeq: number;
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  /** Set once an append failed for good; the generation must stop. */
  failure: Error | undefined;

  constructor(
    private readonly store: SessionStore,
    private readonly sessionId: string,
    private readonly attempt: number,
    lastSeq: number,
    private readonly retryForMs = 30_000,
    private readonly observe: { latency(seconds: number): void; retry(): void } = { latency: () => undefined, retry: () => undefined },
  ) {
    this.nextSeq = lastSeq + 1;
  }

  push(e: RelaycastEvent): void {
    if (this.failure) throw this.failure;
    if (!mergeInto(this.pending.at(-1), e)) this.pending.push(owned(e));
    if (!this.flushing && !this.scheduled) {
      // Next turn of the event loop: what is pushed in this one goes in the same round trip.
      this.scheduled = true;
      setImmediate(() => this.kick());
    }
  }

  /** Appends `terminal` after everything pending and resolves once it is stored. */
  async finish(terminal: RelaycastEvent): Promise<void> {
    if (!isTerminal(terminal)) throw new Error('finish() needs a terminal event');
    if (this.failure) throw this.failure;
    this.pending.push(terminal);
    this.kick();
    while (this.flushing) await this.flushing;
    if (this.failure) throw this.failure;
  }

  private kick(): void {
    this.scheduled = false;
    if (this.flushing || this.pending.length === 0 || this.failure) return;
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
      // A push that landed after the loop's last check but before this callback was not scheduled.
      if (this.pending.length && !this.failure) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length && !this.failure) {
      const batch = this.pending;
      this.pending = [];
      const first = this.nextSeq;
      this.nextSeq += batch.length;
      try {
        await this.appendWithRetry(first, batch);
      } catch (e) {
        this.failure = e as Error;
      }
    }
  }

  private async appendWithRetry(first: number, batch: RelaycastEvent[]): Promise<void> {
    const deadline = Date.now() + this.retryForMs;
    for (let i = 0; ; i++) {
      try {
        const t0 = performance.now();
        await this.store.append(this.sessionId, this.attempt, first, batch);
        this.observe.latency((performance.now() - t0) / 1000);
        return;
      } catch (e) {
        // Fencing and a finished or missing session are answers, not outages: retrying cannot help.
        if (e instanceof FencedError || e instanceof SessionEndedError || e instanceof SessionMissingError) throw e;
        if (Date.now() >= deadline) throw e;
        this.observe.retry();
        await delay(Math.min(100 * 2 ** i, 2_000));
      }
    }
  }
}
