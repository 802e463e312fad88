import type { EventOf } from '@relaycast/protocol';
import type { CommonConfig } from '@relaycast/shared';
import type { z } from 'zod';

/** The events that flow through a pipeline: everything a generation produces before its terminal event. */
export type StreamEvent = EventOf<'delta'> | EventOf<'thinking'> | EventOf<'tool_call'> | EventOf<'usage'>;

/** What a processor may do with what it sees. */
export interface ProcessorOutput {
  /** Passes an event on to the next processor (the last one's go to the session's stream). */
  emit(e: StreamEvent): void;
  /**
   * Ends the generation now with `done {finishReason}`: the upstream request is aborted (no more tokens are
   * paid for), processors after this one see end() and flush, anything held before it is dropped.
   */
  finish(finishReason: string): void;
}

/**
 * One step of a session's pipeline. Made fresh for every session, so it may keep state; called
 * synchronously, in order, never again after end() or after it called finish().
 */
export interface Processor {
  /** See an event: emit zero or more events. */
  event(e: StreamEvent, out: ProcessorOutput): void;
  /** The upstream ended (or failed, or was cancelled): emit whatever is still held. */
  end(out: ProcessorOutput): void;
  /** The generation was abandoned (worker handed it back): release timers, emit nothing. */
  close?(): void;
}

/**
 * A kind of processor, named by `type` in a route's `processors` list. `setup` runs once per route at
 * start-up with the validated options (throw to refuse them) and returns the per-session constructor.
 */
export interface ProcessorDefinition<O = unknown> {
  readonly type: string;
  readonly options: z.ZodType<O>;
  setup(options: O, env: { cfg: CommonConfig }): () => Processor;
}

/** Keeps the option type of each definition while allowing a list of different ones. */
export function defineProcessor<O>(d: ProcessorDefinition<O>): ProcessorDefinition<O> {
  return d;
}
