import { CONTENT_TYPES, errorEvent, FencedError, SessionEndedError, SessionMissingError, type Config, type EventOf, type GenerateJob, type Logger, type RelaycastEvent, type SessionStore } from '@relaycast/shared';
import { Appender } from './appender.js';
import type { Control } from './control.js';
import { AppendFailed, CancelRequested, FinishEarly, GenerationTimeout, HandBack, LockLost, ProcessorFailed, UpstreamError } from './errors.js';
import type { IngestMetrics } from './metrics.js';
import type { PipelineFactory, StreamEvent } from './processors/index.js';
import { estimateTokens } from './providers/estimate.js';
import { streamUpstream, type Dispatchers } from './upstream.js';

export interface GenerateDeps {
  cfg: Config;
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

/**
 * Runs one attempt of one session: take ownership, stream the upstream into the session's stream, and
 * end with exactly one terminal event whatever happens. Redis failures that outlast the append retries
 * are thrown, so BullMQ retries the job (the next attempt appends a `reset`).
 */
export async function generate(job: GenerateJob, d: GenerateDeps): Promise<'ended' | 'skipped' | 'fenced'> {
  const { sessionId } = job;
  const log = d.log.child(job.requestId ? { sessionId, reqId: job.requestId } : { sessionId });
  let began;
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
  const started = performance.now();
  m.active.inc();
  try {
    if (began.attempt > 1) {
      m.resets.inc();
      appender.push({ type: 'reset', reason: 'retry', attempt: began.attempt });
    }
    if (began.cancelRequested) {
      await appender.finish({ type: 'cancelled', reason: 'client_request' });
      return 'ended';
    }
    const pipelines = d.pipelines.get(job.model);
    if (!d.cfg.routes[job.model] || !pipelines) {
      await appender.finish(errorEvent('unknown_model', `no route for model ${job.model}`, false));
      return 'ended';
    }

    const ac = new AbortController();
    const deadline = setTimeout(() => ac.abort(new GenerationTimeout('generation timed out')), d.cfg.GENERATION_TIMEOUT_MS);
    const handBack = () => ac.abort(d.shutdown.reason instanceof LockLost ? d.shutdown.reason : new HandBack('worker shutting down'));
    if (d.shutdown.aborted) handBack();
    d.shutdown.addEventListener('abort', handBack);
    const push = (e: RelaycastEvent) => {
      try {
        appender.push(e);
      } catch (err) {
        ac.abort(new AppendFailed(err));
      }
    };
    // Between the decoder and the appender: the route's processors (coalescing last).
    const pipeline = pipelines.create({
      emit: push,
      finish: (reason) => ac.abort(new FinishEarly(reason)),
      fail: (processor, err) => ac.abort(new ProcessorFailed(processor, err)),
    });
    let firstToken = 0;
    let outputTokens = 0;
    let outputChars = 0;
    let upstreamDone: EventOf<'done'> | undefined;
    let failure: unknown;
    let unwatch: (() => void) | undefined;
    try {
      unwatch = await d.control.watch(sessionId, () => ac.abort(new CancelRequested('cancelled')));
      // The flag may have been set between begin and the subscription becoming active.
      const meta = await d.store.meta(sessionId);
      if (meta?.cancelRequested) ac.abort(new CancelRequested('cancelled'));
      upstreamDone = await streamUpstream(job.model, job, {
        cfg: d.cfg,
        dispatchers: d.dispatchers,
        signal: ac.signal,
        onRetry: () => m.retries.inc({ kind: 'upstream' }),
        onFallback: (e, from, to) => {
          m.retries.inc({ kind: 'fallback' });
          log.info({ from, to, code: e.code, err: e.message }, 'route failed before any content; falling back');
        },
        emit: (e) => {
          if (CONTENT_TYPES.has(e.type)) {
            if (!firstToken) {
              firstToken = performance.now();
              m.ttft.observe((firstToken - started) / 1000);
            }
            outputChars += e.type === 'tool_call' ? e.arguments.length : 'text' in e ? e.text.length : 0;
          }
          if (e.type === 'usage') outputTokens = e.outputTokens;
          pipeline.push(e as StreamEvent);
        },
      });
    } catch (err) {
      failure = ac.signal.aborted ? ac.signal.reason : err;
    } finally {
      clearTimeout(deadline);
      d.shutdown.removeEventListener('abort', handBack);
      unwatch?.();
    }
    let terminal: RelaycastEvent;
    if (failure instanceof HandBack || failure instanceof AppendFailed || failure instanceof ProcessorFailed) {
      pipeline.close();
      terminal = terminalFor(failure, log);
    } else {
      // Whatever ended the upstream, the text that arrived is the session's: processors flush what they hold.
      pipeline.end();
      if (pipeline.finishReason !== undefined) terminal = { type: 'done', finishReason: pipeline.finishReason, usage: upstreamDone?.usage ?? estimateTokens(job, outputChars) };
      else terminal = upstreamDone ?? terminalFor(failure, log);
    }
    await appender.finish(terminal);
    const seconds = (performance.now() - started) / 1000;
    m.duration.observe({ outcome: terminal.type }, seconds);
    if (terminal.type === 'error') m.upstreamErrors.inc({ code: terminal.code });
    if (terminal.type === 'done') {
      const tokens = terminal.usage?.outputTokens ?? outputTokens;
      if (tokens > 0 && firstToken) m.tokensPerSecond.observe(tokens / Math.max((performance.now() - firstToken) / 1000, 0.001));
    }
    log.debug({ terminal: terminal.type }, 'generation ended');
    return 'ended';
  } catch (e) {
    if (e instanceof FencedError || e instanceof SessionEndedError || e instanceof LockLost) {
      // Another attempt owns the session now (our lock was lost); it will finish the session.
      log.warn({ err: e.message }, 'generation fenced off');
      m.fenced.inc();
      return 'fenced';
    }
    throw e;
  } finally {
    m.active.dec();
  }
}

function terminalFor(err: unknown, log: Logger): RelaycastEvent {
  if (err instanceof CancelRequested) return { type: 'cancelled', reason: 'client_request' };
  // No terminal event: the job fails back to BullMQ and another worker runs it as a new attempt.
  if (err instanceof HandBack) throw err;
  if (err instanceof GenerationTimeout) return errorEvent('generation_timeout', 'generation exceeded its time limit', false);
  if (err instanceof UpstreamError) return err.toEvent();
  if (err instanceof ProcessorFailed) {
    log.error({ err: err.cause, processor: err.processor }, 'processor failed');
    return errorEvent('processor_failed', `processor ${err.processor} failed`, false);
  }
  // Appends failed for good (fenced, or Redis down past the retries): not the upstream's fault, so no
  // error event from here; the caller decides (fenced: stop; outage: BullMQ retries the job).
  if (err instanceof AppendFailed) throw err.cause;
  log.error({ err }, 'unexpected failure during generation');
  return errorEvent('internal', 'internal error during generation', false);
}

