import type { Processor, ProcessorOutput, StreamEvent } from './processor.js';

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
