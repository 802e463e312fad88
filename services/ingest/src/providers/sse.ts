import type { RelaycastEvent } from '@relaycast/protocol';
import type { GenerateJob, Route, SseOptions } from '@relaycast/shared';
import type { UpstreamError } from '../errors.js';
import { BaseDecoder, inBandError, type Provider, type UpstreamMessage } from './provider.js';
import { bearer, endpoint, mockControls, params } from './request.js';

const DEFAULT_BODY = { model: '{{model}}', messages: '{{messages}}', max_tokens: '{{max_tokens}}', temperature: '{{temperature}}', stream: true };

/**
 * Plain SSE passthrough, the pattern Relaycast grew from: any SSE URL, each event's data (or one JSON field
 * of it) forwarded as a delta, until the configured end marker. Usage is always estimated.
 */
export const sse: Provider = {
  format: 'sse',
  request(route: Route, job: GenerateJob, apiKey) {
    const o = options(route);
    const vars = templateVars(route, job);
    const url = endpoint(route, '');
    for (const [k, v] of Object.entries(o.query ?? {})) url.searchParams.set(k, v.replace(/\{\{(prompt|model)\}\}/g, (_, name: 'prompt' | 'model') => String(vars[name] ?? '')));
    const headers = { accept: 'text/event-stream', ...bearer(apiKey), ...route.headers };
    if (o.method === 'GET') return { url: url.toString(), method: 'GET', headers };
    const rendered = render(o.body ?? DEFAULT_BODY, vars);
    const body = rendered && typeof rendered === 'object' && !Array.isArray(rendered) ? { ...route.body, ...rendered, ...mockControls(route, job) } : rendered;
    return { url: url.toString(), method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
  },
  decoder: (job, route) => new SseDecoder(job, options(route)),
};

function options(route: Route): SseOptions {
  return route.sse ?? { method: 'POST', errorEvent: 'error', eofIsEnd: false, doneData: '[DONE]' };
}

function templateVars(route: Route, job: GenerateJob): Record<string, unknown> {
  const p = params(route, job);
  return { messages: job.messages, prompt: job.messages.map((m) => m.content).join('\n'), model: route.model, max_tokens: p.max_tokens, temperature: p.temperature, seed: p.seed, stop: p.stop };
}

/** Replaces every string that is exactly `{{name}}` with the value (dropping object keys whose value is unset). */
export function render(t: unknown, vars: Record<string, unknown>): unknown {
  if (typeof t === 'string') {
    const m = /^\{\{(\w+)\}\}$/.exec(t);
    return m ? vars[m[1]!] : t;
  }
  if (Array.isArray(t)) return t.map((v) => render(v, vars));
  if (t && typeof t === 'object') return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, render(v, vars)]).filter(([, v]) => v !== undefined));
  return t;
}

class SseDecoder extends BaseDecoder {
  constructor(job: GenerateJob, private readonly o: SseOptions) {
    super(job);
  }

  decode(m: UpstreamMessage, out: RelaycastEvent[]): void {
    // An event with no `event:` field is a `message` event (HTML §9.2.6).
    const name = m.event ?? 'message';
    if ((this.o.doneEvent !== undefined && name === this.o.doneEvent) || (this.o.doneData !== undefined && m.data === this.o.doneData)) {
      this.ended = true;
      return;
    }
    if (name === this.o.errorEvent) throw errorFrom(m.data);
    if (this.o.events && !this.o.events.includes(name)) return;
    this.text(out, 'delta', this.o.textPath === undefined ? m.data : textAt(m.data, this.o.textPath));
  }

  override end(outputChars: number) {
    if (this.o.eofIsEnd) this.ended = true;
    return super.end(outputChars);
  }
}

/** The value at `path` in JSON data; data that is not JSON is text as it is. */
function textAt(data: string, path: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return data;
  }
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

function errorFrom(data: string): UpstreamError {
  try {
    const j = JSON.parse(data) as any;
    const e = j?.error;
    return inBandError(e?.type ?? e?.code, typeof e === 'string' ? e : (e?.message ?? j?.message ?? data));
  } catch {
    return inBandError(undefined, data);
  }
}
