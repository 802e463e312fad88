import { errorEvent, type EventOf, type RelaycastEvent, type Usage } from '@relaycast/protocol';
import type { Logger } from '@relaycast/shared';

/** Why a generation stopped before its upstream finished: every reason, in one type. */
export type StopReason =
  | { kind: 'cancel' }
  /** This worker is shutting down: the job goes back to the queue. */
  | { kind: 'hand-back' }
  /** The job lock turned out lost (job-lock.ts): another attempt owns the session; append nothing more. */
  | { kind: 'lock-lost'; message: string }
  | { kind: 'timeout' }
  /** A processor ended the generation (stop sequence, output cap): a clean `done`. */
  | { kind: 'finish'; finishReason: string }
  /** A processor threw: a bug in it, not the upstream's fault. */
  | { kind: 'processor-failed'; processor: string; cause: unknown }
  /** Appends failed for good; `cause` is the store's error. */
  | { kind: 'append-failed'; cause: unknown };

/** Reasons after which the processors' held text is dropped rather than flushed. */
const ABANDONS: ReadonlySet<StopReason['kind']> = new Set(['hand-back', 'lock-lost', 'append-failed', 'processor-failed']);

/**
 * The first stop reason wins and aborts the upstream request. A processor's finish is remembered even when
 * it comes after another reason (during the final flush, say): its `done` wins unless the text is dropped.
 */
export class Stopper {
  private readonly ac = new AbortController();
  reason: StopReason | undefined;
  finishReason: string | undefined;

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  stop(r: StopReason): void {
    if (r.kind === 'finish') this.finishReason ??= r.finishReason;
    if (this.reason) return;
    this.reason = r;
    this.ac.abort(r);
  }

  /** Whether held text is dropped: the upstream did not end on its own and the reason abandons the work. */
  abandons(upstreamEnded: boolean): boolean {
    return !upstreamEnded && this.reason !== undefined && ABANDONS.has(this.reason.kind);
  }
}

/** What a generation does last: append a terminal event, or append nothing and tell BullMQ why. */
export type Ending =
  | { kind: 'append'; terminal: RelaycastEvent }
  | { kind: 'hand-back' }
  | { kind: 'fenced'; message: string }
  | { kind: 'append-failed'; cause: unknown };

export interface Finished {
  /** The upstream's own terminal (`done`, or `error` for a failure it cannot retry), if it reached one. */
  upstreamEnd: EventOf<'done'> | EventOf<'error'> | undefined;
  /** A failure that is nobody's stop reason (a bug). */
  failure: unknown;
}

/** Decides the one terminal event of a generation from how it finished. */
export function ending(f: Finished, s: Stopper, estimate: () => Usage, log: Logger): Ending {
  const r = s.reason;
  if (r && s.abandons(f.upstreamEnd !== undefined)) {
    if (r.kind === 'hand-back') return { kind: 'hand-back' };
    if (r.kind === 'lock-lost') return { kind: 'fenced', message: r.message };
    // Appends failed for good (fenced, or Redis down past the retries): not the upstream's fault, so no
    // error event from here; the caller decides (fenced: stop; outage: BullMQ retries the job).
    if (r.kind === 'append-failed') return { kind: 'append-failed', cause: r.cause };
    if (r.kind === 'processor-failed') {
      log.error({ err: r.cause, processor: r.processor }, 'processor failed');
      return append(errorEvent('processor_failed', `processor ${r.processor} failed`, false));
    }
  }
  // Whatever ended the upstream, the text that arrived is the session's, and a processor's finish ends it cleanly.
  if (s.finishReason !== undefined) {
    const usage = f.upstreamEnd?.type === 'done' ? f.upstreamEnd.usage : undefined;
    return append({ type: 'done', finishReason: s.finishReason, usage: usage ?? estimate() });
  }
  if (f.upstreamEnd) return append(f.upstreamEnd);
  if (r?.kind === 'cancel') return append({ type: 'cancelled', reason: 'client_request' });
  if (r?.kind === 'timeout') return append(errorEvent('generation_timeout', 'generation exceeded its time limit', false));
  log.error({ err: f.failure }, 'unexpected failure during generation');
  return append(errorEvent('internal', 'internal error during generation', false));
}

const append = (terminal: RelaycastEvent): Ending => ({ kind: 'append', terminal });
