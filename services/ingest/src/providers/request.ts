import type { GenerateJob, Route } from '@relaycast/shared';
import type { UpstreamRequest } from './provider.js';

/** The generation parameters of a request: the client's, else the route's defaults. */
export function params(route: Route, job: GenerateJob): { max_tokens?: number; temperature?: number; top_p?: number; seed?: number; stop?: string[] } {
  return definedOnly({ ...route.defaults, ...definedOnly(job.params) });
}

/** The route's path (or the provider's default) resolved against its base URL. */
export function endpoint(route: Route, defaultPath: string): URL {
  const base = new URL(route.baseUrl);
  const path = route.path ?? defaultPath;
  if (!path) return base; // the base URL is the endpoint (plain SSE), query string included
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return new URL(path, base);
}

/**
 * A JSON POST: the route's extra body fields first (so they cannot replace what the format needs), the
 * format's fields, then the mock controls where the route allows them.
 */
export function jsonPost(route: Route, job: GenerateJob, url: URL, body: Record<string, unknown>, headers: Record<string, string>, accept = 'text/event-stream'): UpstreamRequest {
  return {
    url: url.toString(),
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, ...headers, ...route.headers },
    body: JSON.stringify({ ...route.body, ...definedOnly(body), ...mockControls(route, job) }),
  };
}

/**
 * The `mock` object for routes that allow it (the mock model only): the client's controls, plus the seed,
 * because some formats (Anthropic, Responses) have no seed field and the mock's text depends on it.
 */
export function mockControls(route: Route, job: GenerateJob): { mock?: Record<string, unknown> } {
  if (!route.allowMock) return {};
  const mock = { ...job.mock, ...(job.params.seed !== undefined ? { seed: job.params.seed } : {}) };
  return Object.keys(mock).length ? { mock } : {};
}

export const bearer = (apiKey: string | undefined): Record<string, string> => (apiKey ? { authorization: `Bearer ${apiKey}` } : {});

export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
