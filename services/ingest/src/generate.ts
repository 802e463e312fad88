import { FencedError, SessionEndedError, SessionMissingError, type Config, type GenerateJob, type Logger, type RelaycastEvent, type SessionStore } from '@relaycast/shared';
import type { Agent } from 'undici';
import { Appender } from './appender.js';
import type { Control } from './control.js';
import { AppendFailed, CancelRequested, GenerationTimeout, UpstreamError } from './errors.js';
import { GenerationTracker, type IngestMetrics } from './metrics.js';
import { streamUpstream } from './upstream.js';

export interface GenerateDeps {
  cfg: Config;
  store: SessionStore;
  control: Control;
  dispatcher: Agent;
  log: Logger;
  metrics?: IngestMetrics;
}

type Result = 'ended' | 'skipped' | 'fenced';

/** Runs one attempt (see {@link runGeneration}) and records it in the metrics, however it ends. */
export async function generate(job: GenerateJob, d: GenerateDeps): Promise<Result> {
  const track = new GenerationTracker(d.metrics);
  let result: Result | undefined;
  try {
    result = await runGeneration(job, d, track);
    return result;
  } finally {
    track.ended(result ?? 'failed');
  }
}

/**
 * Runs one attempt of one session: take ownership, stream the upstream into the session's stream, and
 * end with exactly one terminal event whatever happens. Redis failures that outlast the append retries
 * are thrown, so BullMQ retries the job (the next attempt appends a `reset`).
 */
async function runGeneration(job: GenerateJob, d: GenerateDeps, track: GenerationTracker): Promise<Result> {
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
  track.began(began.attempt);
  const appender = new Appender(d.store, sessionId, began.attempt, began.seq, d.cfg.COALESCE_MS);
  appender.observer = d.metrics;
  try {
    if (began.attempt > 1) appender.push({ type: 'reset', reason: 'retry', attempt: began.attempt });
    const finish = (t: RelaycastEvent) => {
      track.ending(t);
      return appender.finish(t);
    };
    if (began.cancelRequested) {
      await finish({ type: 'cancelled', reason: 'client_request' });
      return 'ended';
    }
    const route = d.cfg.routes[job.model];
    if (!route) {
      await finish({ type: 'error', code: 'unknown_model', message: `no route for model ${job.model}`, retryable: false });
      return 'ended';
    }

    const ac = new AbortController();
    const deadline = setTimeout(() => ac.abort(new GenerationTimeout('generation timed out')), d.cfg.GENERATION_TIMEOUT_MS);
    let terminal: RelaycastEvent;
    try {
      await d.control.watch(sessionId, () => ac.abort(new CancelRequested('cancelled')));
      // The flag may have been set between begin and the subscription becoming active.
      const meta = await d.store.meta(sessionId);
      if (meta?.cancelRequested) ac.abort(new CancelRequested('cancelled'));
      terminal = await streamUpstream(route, job, {
        cfg: d.cfg,
        dispatcher: d.dispatcher,
        signal: ac.signal,
        onAttemptFailed: (e, retrying) => track.upstreamFailed(e, retrying),
        emit: (e) => {
          track.event(e);
          try {
            appender.push(e);
          } catch (err) {
            ac.abort(new AppendFailed(err));
          }
        },
      });
    } catch (err) {
      terminal = terminalFor(ac.signal.aborted ? ac.signal.reason : err, log);
    } finally {
      clearTimeout(deadline);
      d.control.unwatch(sessionId);
    }
    await finish(terminal);
    log.debug({ terminal: terminal.type }, 'generation ended');
    return 'ended';
  } catch (e) {
    if (e instanceof FencedError || e instanceof SessionEndedError) {
      // Another attempt owns the session now (our lock was lost); it will finish the session.
      log.warn({ err: e.message }, 'generation fenced off');
      return 'fenced';
    }
    throw e;
  }
}

function terminalFor(err: unknown, log: Logger): RelaycastEvent {
  if (err instanceof CancelRequested) return { type: 'cancelled', reason: 'client_request' };
  if (err instanceof GenerationTimeout) return { type: 'error', code: 'generation_timeout', message: 'generation exceeded its time limit', retryable: false };
  if (err instanceof UpstreamError) return err.toEvent();
  // Appends failed for good (fenced, or Redis down past the retries): not the upstream's fault, so no
  // error event from here; the caller decides (fenced: stop; outage: BullMQ retries the job).
  if (err instanceof AppendFailed) throw err.cause;
  log.error({ err }, 'unexpected failure during generation');
  return { type: 'error', code: 'internal', message: 'internal error during generation', retryable: false };
}

