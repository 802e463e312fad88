import { setTimeout as delay } from 'node:timers/promises';
import { Agent, errors as undiciErrors, request } from 'undici';
import { createParser } from 'eventsource-parser';
import type { Config, EventOf, GenerateJob, RelaycastEvent, Route } from '@relaycast/shared';
import { UpstreamError } from './errors.js';
import { providerFor, type StreamDecoder, type UpstreamMessage } from './providers/index.js';

export interface UpstreamOptions {
  cfg: Config;
  dispatcher: Agent;
  signal: AbortSignal;
  /** Receives each normalised event, in order. */
  emit(e: RelaycastEvent): void;
  /** Called before each retry of the upstream request. */
  onRetry?(e: UpstreamError): void;
}

/** One dispatcher per ingest process: its connect timeout applies to every upstream request. */
export function createDispatcher(cfg: Config): Agent {
  return new Agent({ connect: { timeout: cfg.UPSTREAM_CONNECT_TIMEOUT_MS }, keepAliveTimeout: 10_000 });
}

/**
 * Streams one generation from the route's provider. Failures before the first content token are retried
 * with exponential backoff (the client has seen nothing yet); after it, any failure ends the session with
 * an `error` event, because a retry would repeat text the subscribers already have.
 */
export async function streamUpstream(route: Route, job: GenerateJob, o: UpstreamOptions): Promise<EventOf<'done'>> {
  const provider = providerFor(route);
  const apiKey = route.apiKeyEnv ? process.env[route.apiKeyEnv] : undefined;
  for (let attempt = 1; ; attempt++) {
    let sawContent = false;
    const emit = (e: RelaycastEvent) => {
      if (e.type === 'delta') sawContent = true;
      o.emit(e);
    };
    try {
      return await once(provider.request(route, job, apiKey), provider.format, provider.decoder(job), emit, o);
    } catch (err) {
      const e = withoutSecret(toUpstreamError(err, o.signal), apiKey);
      if (sawContent || !e.retryable || attempt >= o.cfg.UPSTREAM_MAX_ATTEMPTS || o.signal.aborted) throw e;
      o.onRetry?.(e);
      const backoff = e.retryAfterMs ?? o.cfg.UPSTREAM_RETRY_BASE_MS * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
      await delay(Math.min(backoff, 30_000), undefined, { signal: o.signal }).catch(() => undefined);
      if (o.signal.aborted) throw toUpstreamError(o.signal.reason, o.signal);
    }
  }
}

async function once(req: ReturnType<ReturnType<typeof providerFor>['request']>, format: 'sse' | 'ndjson', decoder: StreamDecoder, emit: (e: RelaycastEvent) => void, o: UpstreamOptions): Promise<EventOf<'done'>> {
  const res = await request(req.url, {
    method: 'POST',
    headers: req.headers,
    body: req.body,
    signal: o.signal,
    dispatcher: o.dispatcher,
    // undici's defaults are 300 s; a stalled upstream must end the session much sooner.
    headersTimeout: o.cfg.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
    bodyTimeout: o.cfg.UPSTREAM_IDLE_TIMEOUT_MS,
  });
  if (res.statusCode !== 200) {
    const text = await res.body.text().catch(() => '');
    const retryAfter = Number(res.headers['retry-after']);
    const retryable = res.statusCode === 429 || res.statusCode >= 500;
    throw new UpstreamError('upstream_http', `upstream answered HTTP ${res.statusCode}${describe(text)}`, retryable, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
  }
  let failure: unknown;
  const onMessage = (m: UpstreamMessage) => {
    if (failure) return;
    try {
      for (const e of decoder.message(m)) emit(e);
    } catch (err) {
      failure = err;
    }
  };
  const feed = format === 'sse' ? sseFeeder(onMessage, o.cfg.UPSTREAM_MAX_EVENT_BYTES) : ndjsonFeeder(onMessage, o.cfg.UPSTREAM_MAX_EVENT_BYTES);
  const utf8 = new TextDecoder();
  try {
    for await (const chunk of res.body) {
      feed.feed(utf8.decode(chunk as Buffer, { stream: true }));
      if (failure) throw failure;
    }
    feed.feed(utf8.decode());
    feed.end();
    if (failure) throw failure;
  } finally {
    if (!res.body.destroyed) res.body.destroy();
  }
  return decoder.end();
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

/**
 * Error messages reach every subscriber (and logs), and some providers quote the credential they were sent
 * in a 401 body: the route's API key never leaves in one.
 */
function withoutSecret(e: UpstreamError, secret: string | undefined): UpstreamError {
  if (!secret || !e.message.includes(secret)) return e;
  return new UpstreamError(e.code, e.message.replaceAll(secret, '[redacted]'), e.retryable, e.retryAfterMs);
}

function describe(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: { message?: string } };
    if (j.error?.message) return `: ${j.error.message.slice(0, 300)}`;
  } catch {
    /* not JSON */
  }
  return '';
}

/** Maps any failure of one upstream request onto the error a subscriber will see. */
export function toUpstreamError(err: unknown, signal: AbortSignal): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (signal.aborted) throw signal.reason;
  if (err instanceof undiciErrors.HeadersTimeoutError) return new UpstreamError('upstream_timeout', 'upstream sent no response in time', true);
  if (err instanceof undiciErrors.BodyTimeoutError) return new UpstreamError('upstream_timeout', 'upstream went silent mid-stream (idle timeout)', false);
  if (err instanceof undiciErrors.ConnectTimeoutError) return new UpstreamError('upstream_unreachable', 'could not connect to upstream in time', true);
  const code = (err as { code?: string }).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'EAI_AGAIN') return new UpstreamError('upstream_unreachable', `upstream unreachable (${code})`, true);
  if (err instanceof undiciErrors.SocketError || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return new UpstreamError('upstream_network', 'upstream connection was cut mid-stream', true);
  return new UpstreamError('upstream_network', `upstream request failed: ${(err as Error).message ?? String(err)}`, true);
}
