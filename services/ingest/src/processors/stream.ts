import type { RelaycastEvent } from '@relaycast/protocol';
import type { Stopper } from '../ending.js';
import type { PipelineFactory } from './index.js';
import type { StreamEvent } from './processor.js';

/**
 * A route's processors as a step of the generation's loop: the upstream's events go in, what the
 * processors emit comes out (including what they emit later, from a timer, such as coalescing), then the
 * upstream's own terminal event if it reached one. A processor's finish or failure becomes a stop reason,
 * which aborts the upstream. When the upstream is over, processors flush what they hold, or drop it when
 * the stop reason abandons the work. A failure that is no stop reason is thrown after the flush. `stop`:
 * the request's stop sequences (the job's `params.stop`), run as a processor of this session.
 */
export function pipeline(source: AsyncIterable<RelaycastEvent>, factory: PipelineFactory, stopper: Stopper, stop?: readonly string[]): AsyncIterable<RelaycastEvent> {
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
