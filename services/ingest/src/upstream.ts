import { setTimeout as delay } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { createParser } from 'eventsource-parser';
import { CONTENT_TYPES, contentText, type EventOf, type RelaycastEvent } from '@relaycast/protocol';
import { fallbackChain, type GenerateJob, type Route } from '@relaycast/shared';
import type { IngestConfig } from './config.js';
import { toUpstreamError, UpstreamError, withoutSecret } from './errors.js';
import { providerFor, type StreamDecoder, type UpstreamMessage, type UpstreamRequest } from './providers/index.js';

export interface UpstreamOptions {
  cfg: IngestConfig;
  dispatchers: Dispatchers;
  /** Aborted when the generation stops: the request is cut and the iterable ends without a terminal event. */
  signal: AbortSignal;
  /** The generation's meter: content that has started cannot be retried or fall back. */
  output: OutputMeter;
  /** Called before each retry of the upstream request. */
  onRetry?(e: UpstreamError, route: string): void;
  /** Called when a route failed before any content and the next route of its fallbacks is tried. */
  onFallback?(e: UpstreamError, from: string, to: string): void;
}

/**
 * undici Agents, one per connect timeout in use (the connect timeout belongs to the Agent, and routes may
 * set their own). Shared by every request of an ingest process.
 */
export class Dispatchers {
  private readonly agents = new Map<number, Agent>();

  constructor(private readonly cfg: IngestConfig) {}

  for(route: Route): Agent {
    const ms = route.timeouts.connectMs ?? this.cfg.UPSTREAM_CONNECT_TIMEOUT_MS;
    let a = this.agents.get(ms);
    if (!a) this.agents.set(ms, (a = new Agent({ connect: { timeout: ms }, keepAliveTimeout: 10_000 })));
    return a;
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((a) => a.close()));
  }
}

/**
 * One generation's upstream as an async iterable of Relaycast events, ending with exactly one terminal
 * event (`done`, or `error` for a failure it cannot get past), or with none when `signal` aborted it.
 * Failures before the first content token are retried with exponential backoff, up to the route's
 * attempts; then (or at once, for an error retrying cannot fix) the route's fallbacks are tried in order,
 * each with its own provider and attempts. The client has seen nothing yet, so it sees only the answer
 * that succeeds. After the first content token any failure ends the session with an `error` event: a
 * retry or another model would repeat or contradict text the subscribers already have.
 */
export async function* upstream(name: string, job: GenerateJob, o: UpstreamOptions): AsyncGenerator<RelaycastEvent> {
  const chain = fallbackChain(o.cfg.routes, name);
  for (let i = 0; ; i++) {
    try {
      return yield* withRetries(chain[i]!, job, o);
    } catch (err) {
      if (o.signal.aborted) return;
      // Not the upstream's answer (a bug): the generation reports it as an internal error.
      if (!(err instanceof UpstreamError)) throw err;
      const next = chain[i + 1];
      if (o.output.started || next === undefined) return yield err.toEvent();
      o.onFallback?.(err, chain[i]!, next);
    }
  }
}

async function* withRetries(name: string, job: GenerateJob, o: UpstreamOptions): AsyncGenerator<RelaycastEvent> {
  const route = o.cfg.routes[name]!;
  const provider = providerFor(route);
  const apiKey = route.apiKeyEnv ? process.env[route.apiKeyEnv] : undefined;
  const attempts = route.attempts ?? o.cfg.UPSTREAM_MAX_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    // Events before the first content event (none of today's formats sends any) stay with their attempt.
    const held: RelaycastEvent[] = [];
    try {
      for await (const e of once(route, provider.request(route, job, apiKey), provider.format, provider.decoder(job, route), o)) {
        if (!o.output.started && e.type !== 'done' && !o.output.isContent(e)) {
          held.push(e);
          continue;
        }
        for (const h of [...held.splice(0), e]) {
          o.output.see(h);
          yield h;
        }
      }
      return;
    } catch (err) {
      if (o.signal.aborted) return;
      const e = withoutSecret(toUpstreamError(err), apiKey);
      if (o.output.started || !e.retryable || attempt >= attempts) throw e;
      o.onRetry?.(e, name);
      const backoff = e.retryAfterMs ?? o.cfg.UPSTREAM_RETRY_BASE_MS * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
      await delay(Math.min(backoff, 30_000), undefined, { signal: o.signal }).catch(() => undefined);
      if (o.signal.aborted) return;
    }
  }
}

/** One request: the response body's events as they are decoded, `done` last. */
async function* once(route: Route, req: UpstreamRequest, format: 'sse' | 'ndjson', decoder: StreamDecoder, o: UpstreamOptions): AsyncGenerator<RelaycastEvent> {
  const res = await request(req.url, {
    method: req.method,
    headers: req.headers,
    body: req.body ?? null,
    signal: o.signal,
    dispatcher: o.dispatchers.for(route),
    // undici's defaults are 300 s; a stalled upstream must end the session much sooner.
    headersTimeout: route.timeouts.firstByteMs ?? o.cfg.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
    bodyTimeout: route.timeouts.idleMs ?? o.cfg.UPSTREAM_IDLE_TIMEOUT_MS,
  });
  if (res.statusCode !== 200) {
    const text = await res.body.text().catch(() => '');
    const retryAfter = Number(res.headers['retry-after']);
    const retryable = res.statusCode === 429 || res.statusCode >= 500;
    throw new UpstreamError('upstream_http', `upstream answered HTTP ${res.statusCode}${describe(text)}`, retryable, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
  }
  // BodyDecoder pushes synchronously; each chunk's events are handed on before the next chunk is read, and
  // those decoded before a failure in the same chunk still go out ahead of it.
  const events: RelaycastEvent[] = [];
  const body = new BodyDecoder(format, decoder, (e) => events.push(e), o.cfg.UPSTREAM_MAX_EVENT_BYTES);
  try {
    for await (const chunk of res.body) {
      const failed = attempt(() => body.chunk(chunk as Buffer));
      yield* events.splice(0);
      if (failed) throw failed.err;
    }
    let done: EventOf<'done'> | undefined;
    const failed = attempt(() => (done = body.end()));
    yield* events.splice(0);
    if (failed) throw failed.err;
    yield done!;
  } finally {
    if (!res.body.destroyed) res.body.destroy();
  }
}

function attempt(f: () => void): { err: unknown } | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    return { err };
  }
}

/**
 * The one place that decides what counts as content and how much of it there is. "Content started" is
 * the line after which an upstream failure can no longer be retried or fall back (upstream() above), and the
 * moment time-to-first-token is measured; the character count is what usage is estimated from when the
 * provider never reports it.
 */
export class OutputMeter {
  /** performance.now() of the first content event; 0 until then. */
  firstAt = 0;
  chars = 0;

  constructor(private readonly onFirst?: () => void) {}

  get started(): boolean {
    return this.firstAt !== 0;
  }

  /** The provider's own output token count, from its last `usage` event. */
  reportedTokens = 0;

  isContent(e: RelaycastEvent): boolean {
    return CONTENT_TYPES.has(e.type);
  }

  /** Counts `e`; returns true when it is the first content event. */
  see(e: RelaycastEvent): boolean {
    if (e.type === 'usage') this.reportedTokens = e.outputTokens;
    if (!this.isContent(e)) return false;
    this.chars += contentText(e).length;
    if (this.firstAt !== 0) return false;
    this.firstAt = performance.now();
    this.onFirst?.();
    return true;
  }
}

/**
 * Bytes of one response body in, events out: UTF-8 decoding across chunk boundaries, the format's parser
 * (eventsource-parser or NDJSON lines), then the provider's decoder; what it produces is counted here, for
 * the usage estimate of a provider that never reports usage. Tests feed recorded transcripts
 * through this, split at every byte, so what they prove is what production runs.
 */
export class BodyDecoder {
  private failure: unknown;
  private readonly feeder: Feeder;
  private readonly utf8 = new TextDecoder();
  private readonly output = new OutputMeter();

  constructor(format: 'sse' | 'ndjson', private readonly decoder: StreamDecoder, emit: (e: RelaycastEvent) => void, maxEventBytes: number) {
    this.feeder = feederFor(
      format,
      (m) => {
        if (this.failure || decoder.ended) return;
        try {
          const out: RelaycastEvent[] = [];
          decoder.decode(m, out);
          for (const e of out) {
            this.output.see(e);
            emit(e);
          }
        } catch (err) {
          this.failure = err;
        }
      },
      maxEventBytes,
    );
  }

  /** Throws the first failure (in-band error, malformed frame, oversized event). */
  chunk(bytes: Uint8Array): void {
    this.feeder.feed(this.utf8.decode(bytes, { stream: true }));
    if (this.failure) throw this.failure;
  }

  /** EOF: the final `done`, or the failure (truncation included). */
  end(): EventOf<'done'> {
    this.feeder.feed(this.utf8.decode());
    this.feeder.end();
    if (this.failure) throw this.failure;
    return this.decoder.end(this.output.chars);
  }
}

function feederFor(format: 'sse' | 'ndjson', onMessage: (m: UpstreamMessage) => void, maxBytes: number): Feeder {
  return format === 'sse' ? sseFeeder(onMessage, maxBytes) : ndjsonFeeder(onMessage, maxBytes);
}

interface Feeder {
  feed(text: string): void;
  end(): void;
}

function sseFeeder(onMessage: (m: UpstreamMessage) => void, maxBufferSize: number): Feeder {
  const parser = createParser({
    onEvent: (ev) => onMessage({ event: ev.event, data: ev.data }),
    onError: (err) => {
      if (err.type === 'max-buffer-size-exceeded') throw new UpstreamError('upstream_protocol', 'upstream event exceeds the size limit');
    },
    maxBufferSize,
  });
  // An event block not terminated by a blank line before EOF is discarded (HTML §9.2.6), so a truncated
  // final event never counts.
  return { feed: (t) => parser.feed(t), end: () => undefined };
}

function ndjsonFeeder(onMessage: (m: UpstreamMessage) => void, maxLine: number): Feeder {
  let buf = '';
  return {
    feed(text) {
      buf += text;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) onMessage({ data: line });
      }
      if (buf.length > maxLine) throw new UpstreamError('upstream_protocol', 'upstream line exceeds the size limit');
    },
    end() {
      // A last line without its newline is complete JSON or garbage; let the decoder judge it.
      if (buf.trim()) onMessage({ data: buf.trim() });
      buf = '';
    },
  };
}

/** The provider's own words from an HTTP error body: OpenAI and Anthropic `{error: {type?, message}}`, Ollama `{error: "..."}`. */
function describe(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: string | { message?: string; type?: string }; message?: string };
    const e = j.error;
    const message = typeof e === 'string' ? e : (e?.message ?? j.message);
    if (typeof message === 'string' && message) {
      const type = typeof e === 'object' && typeof e?.type === 'string' ? `${e.type}: ` : '';
      return `: ${(type + message).slice(0, 300)}`;
    }
  } catch {
    /* not JSON */
  }
  return '';
}
