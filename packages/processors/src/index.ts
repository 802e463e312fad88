import { ConfigError, routesSource, type CommonConfig } from '@relaycast/shared';
import { maxOutput } from './max-output.js';
import { coalesce, Pipeline, type PipelineFactory } from './pipeline.js';
import type { Processor, ProcessorDefinition } from './processor.js';
import { redact } from './redact.js';
import { stopSequences } from './stop.js';

/** The processors a route may name. A new one is added here (docs/providers.md, "Writing a processor"). */
export const BUILTIN_PROCESSORS: readonly ProcessorDefinition<any>[] = [coalesce, stopSequences, redact, maxOutput];

/**
 * Checks every route's `processors` against the definitions and prepares them, once, at start-up. Coalescing
 * runs last unless the route places it (with COALESCE_MS unless it sets `windowMs`): without it every token
 * would be its own Redis round trip. Throws a {@link ConfigError} naming the route and the processor.
 */
export function compilePipelines(cfg: CommonConfig, extra: readonly ProcessorDefinition<any>[] = []): Map<string, PipelineFactory> {
  const defs = new Map<string, ProcessorDefinition<any>>();
  for (const d of [...BUILTIN_PROCESSORS, ...extra]) defs.set(d.type, d);
  const out = new Map<string, PipelineFactory>();
  for (const [name, route] of Object.entries(cfg.routes)) {
    const specs = route.processors.some((p) => p.type === coalesce.type) ? route.processors : [...route.processors, { type: coalesce.type }];
    const makers: (() => Processor)[] = [];
    specs.forEach((spec, i) => {
      const where = `route ${name}.processors.${i} (${spec.type})`;
      const def = defs.get(spec.type);
      if (!def) throw new ConfigError(routesSource(cfg), `${where}: unknown processor (known: ${[...defs.keys()].join(', ')})`);
      const { type: _type, ...rest } = spec;
      const parsed = def.options.safeParse(rest);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new ConfigError(routesSource(cfg), `${where}: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
      }
      try {
        makers.push(def.setup(parsed.data, { cfg }));
      } catch (e) {
        throw new ConfigError(routesSource(cfg), `${where}: ${(e as Error).message}`);
      }
    });
    const names = specs.map((s) => s.type);
    // After the last of the route's own processors that is not coalescing (by default: right before it).
    let at = specs.length;
    while (at > 0 && specs[at - 1]!.type === coalesce.type) at--;
    out.set(name, {
      names,
      create: (sink, stop) => {
        const stages = makers.map((m) => m());
        if (!stop?.length) return new Pipeline(stages, names, sink);
        const own = stopSequences.setup({ sequences: [...stop] }, { cfg })();
        return new Pipeline(insertAt(stages, at, own), insertAt(names, at, stopSequences.type), sink);
      },
    });
  }
  return out;
}

/**
 * A request's stop sequences run as a `stop` processor of its session alone, after the route's own
 * processors: the answer never holds a sequence whatever the upstream does (not every provider has a stop
 * field), and what it cuts has already been redacted and capped as the route says. Coalescing comes after
 * it, so what coalescing held is flushed, not lost, when the stop ends the answer.
 */
const insertAt = <T>(list: readonly T[], i: number, item: T): T[] => [...list.slice(0, i), item, ...list.slice(i)];

export { Pipeline, pipeline, type PipelineFactory, type PipelineSink, type PipelineStopper } from './pipeline.js';
export { mergeInto, owned } from './merge.js';
export { CHARS_PER_TOKEN } from './max-output.js';
export { defineProcessor, type Processor, type ProcessorDefinition, type ProcessorOutput, type StreamEvent } from './processor.js';
