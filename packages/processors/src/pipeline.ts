import { z } from 'zod';
import type { RelaycastEvent } from '@relaycast/protocol';
import { mergeInto, owned } from './merge.js';
import { defineProcessor, type Processor, type ProcessorOutput, type StreamEvent } from './processor.js';

/** Where a pipeline's output goes. */
export interface PipelineSink {
  emit(e: StreamEvent): void;
  /** A processor ended the generation early (stop sequence, output cap). */
  finish(finishReason: string): void;
  /** A processor threw: a bug, reported as an internal error rather than blamed on the upstream. */
  fail(processor: string, err: unknown): void;
}

/**
 * One session's processors, in order. Each processor's output feeds the next; the last one's goes to the
 * sink. Everything is synchronous except what a processor chooses to emit later (coalescing's timer).
 */
export class Pipeline {
  /** Set once a processor called finish(); the generation ends with done {finishReason}. */
  finishReason: string | undefined;
  private readonly open: boolean[];
  private readonly outs: ProcessorOutput[];
  private stopped = false;

  constructor(private readonly stages: readonly Processor[], private readonly names: readonly string[], private readonly sink: PipelineSink) {
    this.open = stages.map(() => true);
    this.outs = stages.map((_, i) => ({ emit: (e) => this.deliver(i + 1, e), finish: (r) => this.finishAt(i, r) }));
  }

  push(e: StreamEvent): void {
    if (!this.stopped) this.deliver(0, e);
  }

  /** The upstream is done (or failed, or was cancelled): every processor flushes, in order. */
  end(): void {
    this.stopped = true;
    for (let i = 0; i < this.stages.length; i++) {
      if (!this.open[i]) continue;
      this.guard(i, () => this.stages[i]!.end(this.outs[i]!));
      this.open[i] = false;
    }
  }

  /** The generation is abandoned (handed back to the queue): drop everything held, stop timers. */
  close(): void {
    this.stopped = true;
    for (let i = 0; i < this.stages.length; i++) this.shut(i);
  }

  private deliver(i: number, e: StreamEvent): void {
    if (i === this.stages.length) return this.sink.emit(e);
    if (this.open[i]) this.guard(i, () => this.stages[i]!.event(e, this.outs[i]!));
  }

  private finishAt(i: number, reason: string): void {
    if (this.finishReason !== undefined || !this.open[i]) return;
    this.finishReason = reason;
    this.stopped = true;
    // Text held before the finishing processor came after the stop point: drop it. Later ones flush.
    for (let j = 0; j <= i; j++) this.shut(j);
    for (let j = i + 1; j < this.stages.length; j++) {
      if (!this.open[j]) continue;
      this.guard(j, () => this.stages[j]!.end(this.outs[j]!));
      this.open[j] = false;
    }
    this.sink.finish(reason);
  }

  private shut(i: number): void {
    if (!this.open[i]) return;
    this.open[i] = false;
    this.stages[i]!.close?.();
  }

  private guard(i: number, f: () => void): void {
    try {
      f();
    } catch (err) {
      this.stopped = true;
      for (let j = 0; j < this.stages.length; j++) this.shut(j);
      this.sink.fail(this.names[i]!, err);
    }
  }
}

/** Makes the pipeline of one route for each session. */
export interface PipelineFactory {
  readonly names: readonly string[];
  /** `stop`: the request's own stop sequences, run as a `stop` processor of this session only, after the route's processors and before coalescing. */
  create(sink: PipelineSink, stop?: readonly string[]): Pipeline;
}

/** A stop the pipeline asks for: a processor finished the answer, or failed. */
type PipelineStop = { kind: 'finish'; finishReason: string } | { kind: 'processor-failed'; processor: string; cause: unknown };

/** The generation's stop switch (ingest's Stopper) as far as the pipeline uses it. */
export interface PipelineStopper {
  /** Set once anything stopped the generation. */
  readonly reason: unknown;
  stop(r: PipelineStop): void;
  /** Whether held text is dropped rather than flushed. */
  abandons(upstreamEnded: boolean): boolean;
}

/**
 * A route's processors as a step of the generation's loop: the upstream's events go in, what the
 * processors emit comes out (including what they emit later, from a timer, such as coalescing), then the
 * upstream's own terminal event if it reached one. A processor's finish or failure becomes a stop reason,
 * which aborts the upstream. When the upstream is over, processors flush what they hold, or drop it when
 * the stop reason abandons the work. A failure that is no stop reason is thrown after the flush. `stop`:
 * the request's stop sequences (the job's `params.stop`), run as a processor of this session.
 */
export function pipeline(source: AsyncIterable<RelaycastEvent>, factory: PipelineFactory, stopper: PipelineStopper, stop?: readonly string[]): AsyncIterable<RelaycastEvent> {
  const out = new Channel<RelaycastEvent>();
  const p = factory.create(
    {
      emit: (e) => out.push(e),
      finish: (finishReason) => stopper.stop({ kind: 'finish', finishReason }),
      fail: (processor, cause) => stopper.stop({ kind: 'processor-failed', processor, cause }),
    },
    stop,
  );
  void (async () => {
    let end: RelaycastEvent | undefined;
    let failure: unknown;
    try {
      for await (const e of source) {
        if (e.type === 'done' || e.type === 'error') end = e;
        else p.push(e as StreamEvent);
      }
    } catch (err) {
      failure = err;
    }
    if (stopper.abandons(end !== undefined)) p.close();
    else p.end();
    if (end) out.push(end);
    out.close(stopper.reason ? undefined : failure);
  })();
  return out;
}

/** One producer, one consumer; unbounded, as the appender behind it batches whatever is waiting. */
class Channel<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private done = false;
  private failure: unknown;
  private wake: (() => void) | undefined;

  push(v: T): void {
    if (this.done) return;
    this.items.push(v);
    this.wake?.();
  }

  close(failure?: unknown): void {
    this.done = true;
    this.failure = failure;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      if (this.items.length) {
        yield* this.items.splice(0);
        continue;
      }
      if (this.done) {
        if (this.failure !== undefined) throw this.failure;
        return;
      }
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

/**
 * The `coalesce` processor, kept with the pipeline because every pipeline ends with it (compilePipelines
 * adds it when a route does not place it): events that arrive within `windowMs` of the first one held are passed on
 * together, consecutive pieces merged into one event. At high token rates this cuts Redis round trips
 * and socket writes several times over (README, "Choosing COALESCE_MS"); resume stays exact because the
 * merged event is what is stored. 0 passes every event straight on.
 */
export const coalesce = defineProcessor({
  type: 'coalesce',
  options: z.strictObject({ windowMs: z.number().int().min(0).max(1_000).optional() }),
  setup(o, { cfg }) {
    const windowMs = o.windowMs ?? cfg.COALESCE_MS;
    return () => new Coalescer(windowMs);
  },
});

class Coalescer implements Processor {
  private held: StreamEvent[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly windowMs: number) {}

  event(e: StreamEvent, out: ProcessorOutput): void {
    if (this.windowMs === 0) return out.emit(e);
    if (!mergeInto(this.held.at(-1), e)) this.held.push(owned(e));
    // The output stays valid until end(), so the timer may emit through it later.
    this.timer ??= setTimeout(() => this.flush(out), this.windowMs);
  }

  end(out: ProcessorOutput): void {
    this.flush(out);
  }

  close(): void {
    clearTimeout(this.timer);
    this.held = [];
  }

  private flush(out: ProcessorOutput): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.held;
    this.held = [];
    for (const e of batch) out.emit(e);
  }
}
