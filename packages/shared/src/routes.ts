import { z } from 'zod';

/** The wire formats ingest can read; docs/providers.md describes what each maps. */
export const PROVIDERS = ['openai', 'openai-responses', 'anthropic', 'ollama', 'sse'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

const ROUTE_NAME = /^[A-Za-z0-9._:-]{1,64}$/;
const ms = z.number().int().min(1).max(3_600_000);

/** Per-route overrides of the UPSTREAM_*_TIMEOUT_MS globals. */
const timeoutsSchema = z.strictObject({ connectMs: ms.optional(), firstByteMs: ms.optional(), idleMs: ms.optional() });

/**
 * Plain SSE passthrough: which part of each event is text, and what marks the end. EOF without the end
 * marker is `upstream_truncated` unless `eofIsEnd` says EOF is how this source ends.
 */
export const sseOptionsSchema = z
  .strictObject({
    method: z.enum(['GET', 'POST']).default('POST'),
    /** JSON body template for POST; whole-string placeholders `{{messages}}`, `{{prompt}}`, `{{model}}`, `{{max_tokens}}`, `{{temperature}}`, `{{seed}}`, `{{stop}}` (the request's stop sequences, an array). */
    body: z.unknown().optional(),
    /** Query parameters added to the URL; `{{prompt}}` and `{{model}}` inside a value are replaced (URL-encoded). */
    query: z.record(z.string(), z.string().max(2_000)).optional(),
    /** Dot path of the text inside each event's JSON data (`choices.0.delta.content`); unset, or data that is not JSON: the raw data is the text. */
    textPath: z.string().regex(/^[^.]+(\.[^.]+)*$/, 'a dot path such as choices.0.delta.content').optional(),
    /** Only events with these names carry text (default: every event except the done and error events). */
    events: z.array(z.string().min(1)).min(1).optional(),
    /** Data that marks the end, for example `[DONE]`. */
    doneData: z.string().min(1).optional(),
    /** Event name that marks the end, for example `done`. */
    doneEvent: z.string().min(1).optional(),
    /** Event name of an in-band error; its data (or data.error.message, data.error, data.message) is the message. */
    errorEvent: z.string().min(1).default('error'),
    eofIsEnd: z.boolean().default(false),
  })
  .refine((s) => s.doneData !== undefined || s.doneEvent !== undefined || s.eofIsEnd, 'set doneData, doneEvent or eofIsEnd: true (otherwise every stream would end as upstream_truncated)');
export type SseOptions = z.infer<typeof sseOptionsSchema>;

/** One step of the processing pipeline: `type` names the processor, the other fields are its options (checked by ingest at start-up). */
export const processorSpecSchema = z.looseObject({ type: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'lower-case letters, digits and -') });
export type ProcessorSpec = z.infer<typeof processorSpecSchema>;

/**
 * A model route: how a model name a client may ask for maps onto an upstream. Routes live in server
 * config only, so no request can choose the address Relaycast calls.
 */
export const routeSchema = z.strictObject({
  provider: z.enum(PROVIDERS),
  baseUrl: z.url({ protocol: /^https?$/ }),
  /** Replaces the provider's default path (`v1/chat/completions`, …), resolved against `baseUrl`. */
  path: z.string().max(500).optional(),
  /** The model name sent upstream (not needed for `sse`). */
  model: z.string().min(1).optional(),
  description: z.string().max(500).optional(),
  /** Name of the environment variable holding the provider's API key (never the key itself). */
  apiKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
  /** Extra request headers that are not secret (for example `anthropic-beta`). */
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'a header name'), z.string().regex(/^[^\r\n\0]{0,1000}$/, 'no CR, LF or NUL')).optional(),
  /** Generation parameters used when the request does not set them, mapped onto each provider's names. */
  defaults: z.strictObject({ temperature: z.number().min(0).max(2).optional(), max_tokens: z.number().int().positive().optional(), top_p: z.number().min(0).max(1).optional() }).default({}),
  /** Provider-specific fields merged into the request body as they are (for example Anthropic's `thinking`). */
  body: z.record(z.string(), z.unknown()).optional(),
  timeouts: timeoutsSchema.default({}),
  /** Tries of this route before the first content token (default UPSTREAM_MAX_ATTEMPTS). */
  attempts: z.number().int().min(1).max(20).optional(),
  /** Routes tried in order when this one fails before the first content token. */
  fallbacks: z.array(z.string().regex(ROUTE_NAME)).max(10).default([]),
  /** The processing pipeline, in order (coalesce runs last unless listed). */
  processors: z.array(processorSpecSchema).max(32).default([]),
  /** Whether clients may pass the `mock` control object through (only for the mock model). */
  allowMock: z.boolean().default(false),
  sse: sseOptionsSchema.optional(),
});
export type Route = z.infer<typeof routeSchema>;

export const routesSchema = z
  .record(z.string().regex(ROUTE_NAME), routeSchema)
  .refine((r) => Object.keys(r).length > 0, 'at least one route')
  .superRefine((routes, ctx) => {
    for (const [name, r] of Object.entries(routes)) {
      if (r.provider !== 'sse' && !r.model) ctx.addIssue({ code: 'custom', path: [name, 'model'], message: `required for provider ${r.provider}` });
      if (r.provider !== 'sse' && r.sse) ctx.addIssue({ code: 'custom', path: [name, 'sse'], message: 'only for provider sse' });
      r.fallbacks.forEach((f, i) => {
        if (f === name) ctx.addIssue({ code: 'custom', path: [name, 'fallbacks', i], message: 'a route cannot fall back to itself' });
        else if (!routes[f]) ctx.addIssue({ code: 'custom', path: [name, 'fallbacks', i], message: `no route named ${JSON.stringify(f)}` });
      });
    }
    const cycle = findCycle(routes);
    if (cycle) ctx.addIssue({ code: 'custom', path: [cycle[0]!, 'fallbacks'], message: `fallbacks form a cycle: ${cycle.join(' -> ')}` });
  });
export type Routes = z.infer<typeof routesSchema>;

function findCycle(routes: Record<string, { fallbacks: string[] }>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const visit = (name: string, path: string[]): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'open') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'open');
    for (const f of routes[name]?.fallbacks ?? []) {
      if (f === name) continue; // reported on its own
      const c = visit(f, [...path, name]);
      if (c) return c;
    }
    state.set(name, 'done');
    return undefined;
  };
  for (const name of Object.keys(routes)) {
    const c = visit(name, []);
    if (c) return c;
  }
  return undefined;
}

/**
 * The routes tried for `name`, in order: the route, then its fallbacks depth-first, each at most once
 * (validation already refused cycles).
 */
export function fallbackChain(routes: Routes, name: string): string[] {
  const out: string[] = [];
  const add = (n: string) => {
    if (out.includes(n) || !routes[n]) return;
    out.push(n);
    for (const f of routes[n]!.fallbacks) add(f);
  };
  add(name);
  return out;
}

/** What `GET /v1/models` shows of a route: never its address or the name of its key. */
export interface ModelInfo {
  id: string;
  provider: ProviderName;
  description?: string;
}

/** The models a caller may use: a plain function of the routes and a predicate, so access rules stay one line. */
export function listModels(routes: Routes, allowed: (id: string) => boolean = () => true): ModelInfo[] {
  return Object.entries(routes)
    .filter(([id]) => allowed(id))
    .map(([id, r]) => (r.description ? { id, provider: r.provider, description: r.description } : { id, provider: r.provider }));
}

/** The routes `npm start` and tests get with no ROUTES_FILE/ROUTES_JSON: one mock model per wire format. */
export function defaultRoutes(mockUrl: string): Record<string, unknown> {
  const mock = (provider: ProviderName, description: string, extra: Record<string, unknown> = {}) => ({ provider, baseUrl: mockUrl, model: 'mock-1', allowMock: true, description, ...extra });
  return {
    mock: mock('openai', 'Mock model, OpenAI Chat Completions format'),
    'mock-responses': mock('openai-responses', 'Mock model, OpenAI Responses API format'),
    // Anthropic requires max_tokens and the mock streams exactly that many: keep the default answer short.
    'mock-anthropic': mock('anthropic', 'Mock model, Anthropic Messages format', { defaults: { max_tokens: 16 } }),
    'mock-ollama': mock('ollama', 'Mock model, Ollama /api/chat NDJSON format'),
    'mock-sse': mock('sse', 'Mock model, plain SSE passthrough', { path: 'v1/sse', sse: { method: 'POST', textPath: 'text', doneData: '[DONE]' } }),
  };
}
