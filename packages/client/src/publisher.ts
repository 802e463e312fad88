import { RelaycastHttpError, RelaycastNetworkError, RelaycastUsageError } from './errors.js';
import { requestJson, type FetchLike } from './http.js';

/** An event a producer publishes: Relaycast's vocabulary, or a custom `{type, data}` (docs/publishing.md). */
export type PublishedEvent =
  | { type: 'delta' | 'thinking'; text: string }
  | { type: 'tool_call'; index: number; id?: string; name?: string; arguments: string }
  | { type: 'usage'; inputTokens: number; outputTokens: number; estimated: boolean }
  | { type: string; data: unknown };

export type TerminalEvent =
  | { type: 'done'; finishReason: string; usage?: { inputTokens: number; outputTokens: number; estimated: boolean } }
  | { type: 'error'; code: string; message: string; retryable: boolean }
  | { type: 'cancelled'; reason: string };

export interface PublisherOptions {
  baseUrl: string;
  /** An API key (`rk_…`) of the tenant that will own the sessions. */
  apiKey: string;
  fetch?: FetchLike;
  /** Deadline of each request. Default 10 s. */
  requestTimeoutMs?: number;
}

export interface CreateProducerSession {
  label?: string;
  /** Route-independent processors by name, or `{type, ...options}`. */
  processors?: (string | ({ type: string } & Record<string, unknown>))[];
  idleTimeoutMs?: number;
}

export interface ProducerSessionInfo {
  id: string;
  model: string;
  token: string;
  tokenExpiresAt: number;
  eventsUrl: string;
  cancelUrl: string;
  statusUrl: string;
  tokenUrl: string;
  producer: { token: string; epoch: number; nextSeq: number; publishUrl: string; producerUrl: string; idleTimeoutMs: number; processors: string[] };
}

export interface WriterOptions {
  /** A batch is sent this long after its first event at the latest. Default 20 ms. */
  flushMs?: number;
  /** A batch is sent as soon as it holds this many events. Default 200 (keep it at most PUBLISH_MAX_BATCH). */
  maxBatch?: number;
  /** write() waits (backpressure) while this many events are unsent. Default 2000. */
  highWaterMark?: number;
  /** Attempts per batch on network errors, 429 and 5xx (the same seq each time, so no duplicate). Default 5. */
  maxAttempts?: number;
}

/** The session was ended by someone else (a cancel, the idle timeout) or another producer took it over. */
export class PublisherStoppedError extends Error {
  override name = 'PublisherStoppedError';
  constructor(readonly code: string, message: string, readonly reason?: string) {
    super(message);
  }
}

const RETRYABLE = (e: unknown) => e instanceof RelaycastNetworkError || (e instanceof RelaycastHttpError && (e.status === 429 || e.status >= 500));

/**
 * Server-side publishing (issue 20): `const s = await publisher.sessions.create(); await s.write(e); await
 * s.pipe(iterable); await s.end()`. Hand `s.info` (id, token, eventsUrl) to the browser.
 */
export class RelaycastPublisher {
  readonly sessions: { create(o?: CreateProducerSession, w?: WriterOptions): Promise<ProducerSession> };
  private readonly fetch: FetchLike;
  private readonly timeoutMs: number;

  constructor(readonly o: PublisherOptions) {
    if (!o.apiKey) throw new RelaycastUsageError('publishing needs an API key');
    this.fetch = o.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.timeoutMs = o.requestTimeoutMs ?? 10_000;
    this.sessions = {
      create: async (c = {}, w = {}) => {
        const info = await requestJson<ProducerSessionInfo>({ method: 'POST', url: this.url('/v1/sessions'), bearer: o.apiKey, body: { producer: true, ...c }, timeoutMs: this.timeoutMs, fetch: this.fetch });
        return new ProducerSession(info, (path, body) => requestJson({ method: 'POST', url: this.url(path), bearer: info.producer.token, body, timeoutMs: this.timeoutMs, fetch: this.fetch }), w);
      },
    };
  }

  private url(path: string): string {
    return new URL(path, this.o.baseUrl).toString();
  }
}

type Post = (path: string, body: unknown) => Promise<unknown>;

/** One producer session: events are batched, sent in order, one request at a time, each retried safely. */
export class ProducerSession {
  private queue: (PublishedEvent | TerminalEvent)[] = [];
  private nextSeq: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sending: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private drained: (() => void)[] = [];
  private readonly abort = new AbortController();
  private readonly w: Required<WriterOptions>;
  /** Aborted when the session is cancelled (or ended by Relaycast): stop the upstream model call on it. */
  readonly signal: AbortSignal = this.abort.signal;
  /** The last seq Relaycast acknowledged. */
  acknowledged = 0;

  constructor(readonly info: ProducerSessionInfo, private readonly post: Post, w: WriterOptions) {
    this.nextSeq = info.producer.nextSeq;
    this.w = { flushMs: w.flushMs ?? 20, maxBatch: w.maxBatch ?? 200, highWaterMark: w.highWaterMark ?? 2_000, maxAttempts: w.maxAttempts ?? 5 };
  }

  get id(): string {
    return this.info.id;
  }

  /** Queues one event. Resolves at once unless highWaterMark events are unsent (then once they drain). */
  async write(e: PublishedEvent): Promise<void> {
    this.check();
    this.queue.push(e);
    if (this.queue.length >= this.w.maxBatch) this.flushSoon(0);
    else this.flushSoon(this.w.flushMs);
    if (this.queue.length >= this.w.highWaterMark) await new Promise<void>((r) => this.drained.push(r));
    this.check();
  }

  /** Writes every event of `source` (a model stream mapped to events), with backpressure. */
  async pipe(source: AsyncIterable<PublishedEvent> | Iterable<PublishedEvent>): Promise<void> {
    for await (const e of source) {
      if (this.signal.aborted) break;
      await this.write(e);
    }
  }

  /** Sends everything queued and waits for it to be acknowledged. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    // sendAll keeps going while anything is queued, so this resolves once everything written so far is sent.
    this.sending = this.sending.then(() => this.sendAll());
    await this.sending;
    this.check();
  }

  /** Ends the session with exactly one terminal event (default `done {finishReason: 'stop'}`). */
  async end(terminal: TerminalEvent = { type: 'done', finishReason: 'stop' }): Promise<void> {
    this.check();
    this.queue.push(terminal);
    await this.flush();
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  private flushSoon(ms: number): void {
    if (this.timer !== undefined && ms > 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sending = this.sending.then(() => this.sendAll());
    }, ms);
  }

  private async sendAll(): Promise<void> {
    while (this.queue.length > 0 && !this.failure) {
      const batch = this.queue.slice(0, this.w.maxBatch);
      try {
        await this.sendBatch(this.nextSeq, batch);
        this.queue.splice(0, batch.length);
        this.nextSeq += batch.length;
        this.acknowledged = this.nextSeq - 1;
      } catch (e) {
        this.stop(e as Error);
      }
      if (this.queue.length < this.w.highWaterMark) for (const r of this.drained.splice(0)) r();
    }
  }

  /** The same {epoch, seq, events} on every attempt: a retry of an acknowledged batch is a no-op there. */
  private async sendBatch(seq: number, events: readonly unknown[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.post(this.info.producer.publishUrl, { epoch: this.info.producer.epoch, seq, events });
        return;
      } catch (e) {
        if (!RETRYABLE(e) || attempt >= this.w.maxAttempts) throw e;
        const after = e instanceof RelaycastHttpError && e.retryAfter ? e.retryAfter * 1000 : 100 * 2 ** attempt;
        await new Promise((r) => setTimeout(r, Math.min(after, 5_000)));
      }
    }
  }

  private stop(e: Error): void {
    const code = e instanceof RelaycastHttpError ? e.code : '';
    const reason = code === 'session_cancelled' ? 'cancelled' : undefined;
    this.failure = ['session_cancelled', 'session_ended', 'producer_fenced'].includes(code) ? new PublisherStoppedError(code, e.message, reason) : e;
    this.queue = [];
    clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort(this.failure);
    for (const r of this.drained.splice(0)) r();
  }
}
