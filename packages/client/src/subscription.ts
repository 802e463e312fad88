import { Emitter } from './emitter.js';
import { RelaycastHttpError } from './errors.js';
import { Answer, validPayload } from './answer.js';
import type { EventSourceConstructor, EventSourceLike, SessionLinks, SubscribeOptions, SubscriptionDeps, SubscriptionEventMap } from './subscription-types.js';
import {
  EVENT_TYPES,
  TERMINAL_TYPES,
  type EventPayloads,
  type EventType,
  type ResultError,
  type StatusResponse,
  type StreamEvent,
  type SubscriptionResult,
  type SubscriptionState,
  type ToolCall,
} from './types.js';

const CLOSED = 2;

const MAX_BACKOFF_MS = 5_000;

/**
 * Follows one session's event stream. The EventSource reconnects by itself after a drop, sending
 * Last-Event-ID (WHATWG HTML §9.2.3); when it gives up for good (a non-200 answer closes it), the
 * subscription asks the status endpoint why, mints a token if that is the reason and it can, and reopens
 * with `?lastEventId=` after a bounded backoff, a bounded number of times. It closes the EventSource the
 * moment a terminal event arrives, so it never reconnects after the end.
 *
 * Tokens (docs/security.md): the edge ends a live stream when its subscribe token expires, without a
 * terminal event; the EventSource's reconnect with the same token then gets 401, which closes it. The
 * status probe, sent with that token, also gets 401: a subscription whose client holds the API key mints a
 * fresh token and reopens from the last id seen; one without a key ends with `unauthorized` (a viewer of a
 * share link cannot mint). Given only a session id and an API key, it mints a token before the first open.
 */
export class Subscription extends Emitter<SubscriptionEventMap> {
  readonly id: string;
  state: SubscriptionState = 'connecting';
  /** What the events so far add up to: text, thinking, tool calls, gaps, usage. */
  private readonly answer = new Answer();
  lastEventId: string | undefined;
  /** Events received again with an id already seen (ignored); the server promises none. */
  duplicates = 0;
  /** Connections opened, the first included. */
  connections = 0;
  readonly result: Promise<SubscriptionResult>;

  private es: EventSourceLike | undefined;
  /** Set while a token is being minted: its completion opens the stream, so nothing else may meanwhile. */
  private minting = false;
  private opens = 0;
  private finished = false;
  private failures = 0;
  private resumeTimer: ReturnType<typeof setTimeout> | undefined;
  private reopenTimer: ReturnType<typeof setTimeout> | undefined;
  private resolve!: (r: SubscriptionResult) => void;
  private readonly maxReopens: number;
  private readonly reopenBaseMs: number;
  private readonly resumeTimeoutMs: number;

  constructor(
    private readonly links: SessionLinks,
    private readonly deps: SubscriptionDeps,
    opts: SubscribeOptions = {},
  ) {
    super();
    this.id = links.id;
    this.lastEventId = opts.lastEventId;
    this.answer.text = opts.text ?? '';
    this.answer.thinking = opts.thinking ?? '';
    this.maxReopens = opts.maxReopens ?? 5;
    this.reopenBaseMs = opts.reopenBaseMs ?? 250;
    this.resumeTimeoutMs = opts.resumeTimeoutMs ?? 60_000;
    this.result = new Promise((r) => (this.resolve = r));
    // Opened after the caller's synchronous `on(...)` calls, so no event can be missed.
    void this.connect(opts.lastEventId);
  }

  /** The answer so far: deltas since the last `reset`. */
  get text(): string {
    return this.answer.text;
  }

  /** `thinking` text so far (not part of the answer). */
  get thinking(): string {
    return this.answer.thinking;
  }

  /** Tool calls by index, their `arguments` fragments joined. */
  get toolCalls(): ReadonlyMap<number, ToolCall> {
    return this.answer.toolCalls;
  }

  get gaps(): readonly EventPayloads['gap'][] {
    return this.answer.gaps;
  }

  /** The subscribe token in use (it changes when the subscription mints a fresh one). */
  get token(): string | undefined {
    return this.links.token;
  }

  /** When {@link token} expires (ms since the epoch), when the server said so. */
  get tokenExpiresAt(): number | undefined {
    return this.links.tokenExpiresAt;
  }

  /**
   * Cuts the current connection and resumes from the last id seen, as after a network drop (the demo page's
   * "drop connection"). No-op once the subscription has ended.
   */
  reconnect(): void {
    if (this.finished) return;
    this.clearReopenTimer();
    this.closeSource();
    this.setState('resuming');
    this.emit('connection', { kind: 'dropped', lastEventId: this.lastEventId });
    void this.connect(this.lastEventId);
  }

  /** Stops following (the session itself goes on: cancelling is `client.cancel`). */
  close(): void {
    this.finish({ status: 'closed' });
  }

  /**
   * Opens the stream, first minting a token when there is none and the client can: the edge refuses an event
   * stream without one (401), so opening tokenless would only cost a refused request and a probe.
   */
  private connect(lastEventId: string | undefined): Promise<void> {
    if (this.minting) return Promise.resolve();
    if (this.links.token === undefined && this.deps.mintToken) return this.refreshToken('no token was given: minted one with the API key');
    return this.open(lastEventId);
  }

  private async open(lastEventId: string | undefined): Promise<void> {
    let ES: EventSourceConstructor;
    try {
      ES = await this.deps.EventSource();
    } catch (e) {
      return this.fail('no_eventsource', (e as Error).message, false);
    }
    if (this.finished) return;
    const url = new URL(this.links.eventsUrl, this.deps.baseUrl);
    // The query form of the cursor: a new EventSource cannot set Last-Event-ID itself (README, API).
    if (lastEventId !== undefined) url.searchParams.set('lastEventId', lastEventId);
    // Never two connections at once (a reopen and a reconnect() may race).
    this.closeSource();
    const es = new ES(url.toString(), this.deps.eventSourceInit);
    this.es = es;
    this.connections++;
    es.onopen = () => {
      if (this.es !== es || this.finished) return;
      this.clearResumeTimer();
      this.setState('live');
      this.emit('connection', { kind: 'open', lastEventId: this.lastEventId, resumed: this.opens++ > 0 });
    };
    es.onerror = (ev) => {
      // Relaycast's own `event: error` frame also reaches onerror; it is a MessageEvent with data.
      if (typeof (ev as MessageEvent).data === 'string' || this.es !== es || this.finished) return;
      if (es.readyState === CLOSED) return this.recover('the stream was refused');
      // While the server is unreachable the EventSource retries (and fails) every `retry` ms: say it once.
      const wasResuming = this.state === 'resuming';
      this.setState('resuming');
      if (!wasResuming) this.emit('connection', { kind: 'lost', lastEventId: this.lastEventId });
      this.resumeTimer ??= setTimeout(() => this.fail('connection_failed', `could not reconnect within ${this.resumeTimeoutMs} ms`, true), this.resumeTimeoutMs);
    };
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (ev) => {
        if (this.es !== es || this.finished) return;
        // EventSource also fires a plain Event named `error` on connection failures (handled above).
        if (typeof ev.data !== 'string') return;
        this.onFrame(type, ev);
      });
    }
  }

  private onFrame(type: EventType, ev: MessageEvent): void {
    let data: unknown;
    try {
      data = JSON.parse(ev.data as string);
    } catch {
      return this.fail('protocol_error', `a ${type} event carried data that is not JSON`, false);
    }
    if (typeof data !== 'object' || data === null || !validPayload(type, data as Record<string, unknown>)) {
      return this.fail('protocol_error', `a ${type} event is missing its fields`, false);
    }
    const id = ev.lastEventId || undefined;
    // Ids are the session's sequence. A frame without an id (only the terminal `stream_lost` error) keeps
    // the previous lastEventId, so only non-terminal events are checked for repeats.
    if (!TERMINAL_TYPES.has(type) && id !== undefined && this.lastEventId !== undefined && Number(id) <= Number(this.lastEventId)) {
      this.duplicates++;
      return;
    }
    if (id !== undefined) this.lastEventId = id;
    this.failures = 0;
    if (this.state !== 'live') this.setState('live');
    const payload = data as Record<string, unknown>;
    const callId = type === 'tool_call' && typeof payload.id === 'string' ? { callId: payload.id } : {};
    const event = { ...payload, ...callId, id, type } as StreamEvent;
    this.answer.apply(event);
    this.emit(type, event as never);
    this.emit('event', event);
    if (event.type === 'done') this.finish({ status: 'done', finishReason: event.finishReason, ...(event.usage ? { usage: event.usage } : {}) });
    else if (event.type === 'error') this.finish({ status: 'error', error: { code: event.code, message: event.message, retryable: event.retryable, source: 'server' } });
    else if (event.type === 'cancelled') this.finish({ status: 'cancelled', cancelReason: event.reason });
  }

  /** The EventSource gave up (a non-200 answer): find out why, then reopen, refresh the token, or stop. */
  private recover(message: string): void {
    this.closeSource();
    this.clearResumeTimer();
    if (this.finished) return;
    this.failures++;
    if (this.failures > this.maxReopens) return this.fail('connection_failed', `${message}; gave up after ${this.maxReopens} reopens`, true);
    this.setState('resuming');
    const delayMs = Math.round(Math.min(this.reopenBaseMs * 2 ** (this.failures - 1), MAX_BACKOFF_MS) * (0.5 + Math.random() / 2));
    this.emit('connection', { kind: 'reopening', lastEventId: this.lastEventId, attempt: this.failures, delayMs, message });
    this.reopenTimer = setTimeout(() => void this.probeAndReopen(), delayMs);
  }

  private async probeAndReopen(): Promise<void> {
    this.reopenTimer = undefined;
    let status: StatusResponse;
    try {
      status = await this.deps.status(this.links);
    } catch (e) {
      if (this.finished) return;
      if (e instanceof RelaycastHttpError) {
        // 401 here means the token (sent with the probe) is expired or invalid: the stream's refusal too.
        if (e.status === 401 && this.deps.mintToken) return this.refreshToken('the subscribe token was refused (expired): minted a fresh one');
        if (e.status === 401) return this.fail(e.code, this.links.token ? `the subscribe token was refused (${e.message}); a new one needs the API key of the session's owner` : `this session needs its subscribe token (or an API key to mint one): ${e.message}`, false);
        if (e.status === 403) return this.fail(e.code, e.message, false);
        if (e.status === 404) return this.fail('session_not_found', e.message, false);
      }
      // 5xx, 429 or no answer: the next attempt may find a healthy edge.
      return this.recover((e as Error).message);
    }
    if (this.finished) return;
    const ended = status.status === 'done' || status.status === 'error' || status.status === 'cancelled';
    // The edge answers 204 when the cursor is at or past the terminal event, which closes the EventSource
    // for good: the session is over and this subscription already has everything it can get from the stream.
    if (ended && Number(status.lastEventId) <= Number(this.lastEventId ?? 0)) return this.finishFromStatus(status);
    void this.connect(this.lastEventId);
  }

  private async refreshToken(why: string): Promise<void> {
    this.minting = true;
    try {
      const fresh = await this.deps.mintToken!(this.links).finally(() => (this.minting = false));
      if (this.finished) return;
      this.links.token = fresh.token;
      this.links.tokenExpiresAt = fresh.tokenExpiresAt;
      this.links.eventsUrl = fresh.eventsUrl;
      this.emit('connection', { kind: 'token_refreshed', lastEventId: this.lastEventId, tokenExpiresAt: fresh.tokenExpiresAt, message: why });
      void this.open(this.lastEventId);
    } catch (e) {
      if (this.finished) return;
      if (e instanceof RelaycastHttpError && e.status >= 400 && e.status < 500 && e.status !== 429) return this.fail(e.code, `cannot mint a subscribe token: ${e.message}`, false);
      this.recover((e as Error).message);
    }
  }

  private finishFromStatus(s: StatusResponse): void {
    this.answer.text = s.text;
    const usage = s.usage ? { usage: s.usage } : {};
    if (s.status === 'done') this.finish({ status: 'done', ...(s.finishReason ? { finishReason: s.finishReason } : {}), ...usage });
    else if (s.status === 'cancelled') this.finish({ status: 'cancelled', ...usage });
    else this.finish({ status: 'error', error: { code: s.error?.code ?? 'error', message: s.error?.message ?? 'the session ended with an error', retryable: false, source: 'server' }, ...usage });
  }

  private fail(code: string, message: string, retryable: boolean): void {
    if (this.finished) return;
    this.emit('connection', { kind: 'failed', lastEventId: this.lastEventId, message });
    this.finish({ status: 'error', error: { code, message, retryable, source: 'client' } as ResultError });
  }

  private finish(r: Pick<SubscriptionResult, 'status'> & Partial<SubscriptionResult>): void {
    if (this.finished) return;
    this.finished = true;
    this.closeSource();
    this.clearResumeTimer();
    this.clearReopenTimer();
    const usage = r.usage ?? this.answer.usage;
    this.setState(r.status);
    this.resolve({ ...r, text: this.answer.text, lastEventId: this.lastEventId, gaps: [...this.answer.gaps], ...(usage ? { usage } : {}) });
  }

  private closeSource(): void {
    this.es?.close();
    this.es = undefined;
  }

  private clearReopenTimer(): void {
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
  }

  private clearResumeTimer(): void {
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
  }

  private setState(state: SubscriptionState): void {
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    this.emit('state', { state, previous });
  }
}
