import { ConfigError, routesSource, type Config } from '@relaycast/shared';
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
export function compilePipelines(cfg: Config, extra: readonly ProcessorDefinition<any>[] = []): Map<string, PipelineFactory> {
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
    out.set(name, { names, create: (sink) => new Pipeline(makers.map((m) => m()), names, sink) });
  }
  return out;
}

export { Pipeline, pipeline, type PipelineFactory, type PipelineSink, type PipelineStopper } from './pipeline.js';
export { mergeInto, owned } from './merge.js';
export { CHARS_PER_TOKEN } from './max-output.js';
export { defineProcessor, type Processor, type ProcessorDefinition, type ProcessorOutput, type StreamEvent } from './processor.js';
