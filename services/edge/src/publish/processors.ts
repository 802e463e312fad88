import { z } from 'zod';
import { contentText, errorEvent, isTerminal, TERMINAL_TYPES } from '@relaycast/protocol';
import { ConfigError } from '@relaycast/shared';
import type { EdgeConfig } from '../config.js';
import { BUILTIN_PROCESSORS, Pipeline, type Processor, type StreamEvent } from '@relaycast/processors';
import { PublishInputError, toWire, type PublishEvent, type WireEvent } from './events.js';

/**
 * The route-independent processors a producer session may opt into by name (redaction, stop sequences,
 * output cap, coalescing): the very definitions ingest runs, so a published session is processed exactly
 * like a generated one. Each entry is a name (`"coalesce"`) or `{type, ...options}`.
 */
export const processorSpecSchema = z.array(z.union([z.string(), z.looseObject({ type: z.string() })])).max(8);
export type ProcessorSpec = { type: string } & Record<string, unknown>;

const DEFS = new Map(BUILTIN_PROCESSORS.map((d) => [d.type, d]));

/** Validates the specs at creation (400 naming the one at fault) and returns them in their stored form. */
export function checkProcessors(raw: z.infer<typeof processorSpecSchema>, cfg: EdgeConfig): ProcessorSpec[] {
  const specs = raw.map((s) => (typeof s === 'string' ? { type: s } : (s as ProcessorSpec)));
  specs.forEach((_, i) => {
    makers(specs.slice(i, i + 1), cfg, `processors[${i}]`);
  });
  return specs;
}

function makers(specs: readonly ProcessorSpec[], cfg: EdgeConfig, where = 'processors'): (() => Processor)[] {
  return specs.map((spec) => {
    const def = DEFS.get(spec.type);
    if (!def) throw new PublishInputError('invalid_processor', `${where}: unknown processor ${JSON.stringify(spec.type)} (known: ${[...DEFS.keys()].join(', ')})`);
    const { type: _type, ...rest } = spec;
    const parsed = def.options.safeParse(rest);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new PublishInputError('invalid_processor', `${where} (${spec.type}): ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
    }
    try {
      return def.setup(parsed.data, { cfg });
    } catch (e) {
      if (e instanceof ConfigError || e instanceof Error) throw new PublishInputError('invalid_processor', `${where} (${spec.type}): ${e.message}`);
      throw e;
    }
  });
}

/**
 * What one publish request turns its events into. Built-in content goes through the session's processors;
 * a custom event first flushes whatever they hold, so the stored order is the order the producer sent. A
 * processor that ends the answer (stop sequence, output cap) ends the session with `done {finishReason}`,
 * and everything the producer sent after that point is dropped.
 */
export class PublishRun {
  /** Output not yet appended. */
  out: WireEvent[] = [];
  /** Set once the output holds the session's terminal event. */
  ended = false;
  /** A processor's finishReason, when one ended the session. */
  finishedBy: string | undefined;
  /** Generated content characters in `out` (the caller takes them with it; see publish-3.lua ARGV[7]). */
  outChars = 0;
  private pipeline: Pipeline | undefined;
  private readonly makers: (() => Processor)[];
  private readonly names: string[];
  /** Content characters stored before this request plus those emitted by it: what `max-output` has seen. */
  private used: number;
  /** Called when a processor emits on its own (coalescing's timer), so the caller can append it. */
  onLate: () => void = () => undefined;
  private feeding = false;

  constructor(specs: readonly ProcessorSpec[], cfg: EdgeConfig, usedChars = 0) {
    this.makers = makers(specs, cfg);
    this.names = specs.map((s) => s.type);
    this.used = usedChars;
  }

  feed(e: PublishEvent): void {
    if (this.ended) return;
    this.feeding = true;
    try {
      if (e.kind === 'custom') {
        this.flush();
        this.out.push(e.wire);
      } else if (TERMINAL_TYPES.has(e.event.type)) {
        this.flush();
        if (!this.ended) this.push(toWire(e.event));
      } else if (this.makers.length === 0) this.push(toWire(e.event), contentChars(e.event as StreamEvent));
      else this.open().push(e.event as StreamEvent);
    } finally {
      this.feeding = false;
    }
  }

  /** Lets every processor emit what it holds (end of a batch, of a stream, or before a custom event). */
  flush(): void {
    const p = this.pipeline;
    this.pipeline = undefined;
    p?.end();
  }

  /** The request went away before its end: drop timers, keep nothing held. */
  close(): void {
    this.pipeline?.close();
    this.pipeline = undefined;
  }

  private push(w: WireEvent, chars = 0): void {
    if (this.ended) return;
    this.out.push(w);
    this.outChars += chars;
    this.used += chars;
    if (isTerminal(w)) this.ended = true;
  }

  private open(): Pipeline {
    if (this.pipeline) return this.pipeline;
    const stages = this.makers.map((m) => m());
    // The output cap counts across the session's requests: a fresh max-output stage is told what was
    // already stored (it only counts, so a discarded pass over that many characters brings it level).
    stages.forEach((st, i) => {
      if (this.names[i] === 'max-output' && this.used > 0) st.event({ type: 'delta', text: 'x'.repeat(this.used) }, { emit: () => undefined, finish: () => undefined });
    });
    this.pipeline = new Pipeline(stages, this.names, {
      emit: (ev) => {
        this.push(toWire(ev), contentChars(ev));
        if (!this.feeding) this.onLate();
      },
      finish: (reason) => {
        this.finishedBy = reason;
        this.push(toWire({ type: 'done', finishReason: reason }));
        if (!this.feeding) this.onLate();
      },
      fail: (name, err) => {
        this.push(toWire(errorEvent('processor_failed', `processor ${name} failed: ${(err as Error).message}`)));
        if (!this.feeding) this.onLate();
      },
    });
    return this.pipeline;
  }
}

/** The characters `max-output` counts in an event (the same rule: protocol's contentText). */
function contentChars(e: StreamEvent): number {
  return contentText(e).length;
}
