import { defaultEventSource } from '#eventsource';
import { RelaycastHttpError, RelaycastUsageError } from './errors.js';
import { requestJson, type FetchLike } from './http.js';
import { Subscription } from './subscription.js';
import type { EventSourceConstructor, MintedToken, SessionLinks, SubscribeOptions } from './subscription-types.js';
import type { CreateSessionRequest, ModelInfo, SessionInfo, SessionRef, StatusResponse } from './types.js';

export interface ClientOptions {
  /** The edge (or load balancer), e.g. `http://127.0.0.1:8080`. In a browser it defaults to the page's origin. */
  baseUrl?: string;
  /** An API key (`rk_…`), sent as `Authorization: Bearer` when creating sessions, minting tokens, listing models. */
  apiKey?: string;
  /** Defaults to the global fetch. In Node it is also handed to the `eventsource` package. */
  fetch?: FetchLike;
  /** Defaults to the browser's EventSource, or in Node the `eventsource` package (loaded when first needed). */
  EventSource?: EventSourceConstructor;
  /** Deadline of each plain HTTP request (not of streams). Default 10 s. */
  requestTimeoutMs?: number;
}

/** The session paths fixed by the API (README "API"; CONTRACT.md), for a ref that carries only an id. */
export function sessionLinks(ref: SessionRef): SessionLinks {
  const base = `/v1/sessions/${encodeURIComponent(ref.id)}`;
  return {
    id: ref.id,
    eventsUrl: ref.eventsUrl ?? (ref.token ? `${base}/events?token=${encodeURIComponent(ref.token)}` : `${base}/events`),
    statusUrl: ref.statusUrl ?? base,
    tokenUrl: ref.tokenUrl ?? `${base}/token`,
    token: ref.token,
    tokenExpiresAt: ref.tokenExpiresAt,
  };
}

/**
 * Relaycast over HTTP and SSE, the same code in browsers and Node 20+. The API key (a tenant's server, or
 * the demo page's field) creates sessions and mints tokens; a session's subscribe token reads its stream,
 * status and cancel (docs/security.md). A client without a key can still follow a session from `{id, token}`.
 *
 * ```ts
 * const rc = new RelaycastClient({ baseUrl: 'http://127.0.0.1:8080', apiKey: 'rk_…' });
 * const sub = rc.subscribe(await rc.createSession({ messages: [{ role: 'user', content: 'hi' }] }));
 * sub.on('delta', (e) => process.stdout.write(e.text));
 * const { status, text } = await sub.result;
 * ```
 */
export class RelaycastClient {
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  private readonly fetch: FetchLike;
  private readonly customFetch: boolean;
  private readonly timeoutMs: number;
  private readonly es: EventSourceConstructor | undefined;

  constructor(o: ClientOptions = {}) {
    const origin = (globalThis as { location?: { origin?: string } }).location?.origin;
    const base = o.baseUrl ?? origin;
    if (!base) throw new RelaycastUsageError('baseUrl is required outside a browser');
    this.baseUrl = new URL(base, origin).toString();
    this.apiKey = o.apiKey || undefined;
    this.customFetch = o.fetch !== undefined;
    this.fetch = o.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.timeoutMs = o.requestTimeoutMs ?? 10_000;
    this.es = o.EventSource;
  }

  /** `POST /v1/sessions`: starts a generation. Throws {@link RelaycastHttpError} on 4xx/5xx. */
  createSession(req: CreateSessionRequest): Promise<SessionInfo> {
    return this.request<SessionInfo>('POST', '/v1/sessions', this.apiKey, req);
  }

  /** Follows a session (a create response, or `{id, token}` from a share link). */
  subscribe(ref: SessionRef, opts: SubscribeOptions = {}): Subscription {
    const links = sessionLinks(ref);
    const apiKey = this.apiKey;
    return new Subscription(links, {
      baseUrl: this.baseUrl,
      EventSource: () => (this.es ? Promise.resolve(this.es) : defaultEventSource()),
      eventSourceInit: this.customFetch ? { fetch: this.fetch } : {},
      // The token alone, no fallback to the key: this probe must see a 401 when the token has expired.
      status: (l) => this.request<StatusResponse>('GET', l.statusUrl, l.token ?? apiKey),
      ...(apiKey ? { mintToken: (l: SessionLinks) => this.request<MintedToken>('POST', l.tokenUrl, apiKey) } : {}),
    }, opts);
  }

  /** Creates a session and subscribes to it. */
  async ask(req: CreateSessionRequest, opts: SubscribeOptions = {}): Promise<{ session: SessionInfo; subscription: Subscription }> {
    const session = await this.createSession(req);
    return { session, subscription: this.subscribe(session, opts) };
  }

  /** `GET /v1/sessions/:id`: status, the answer so far, usage, the last event id. */
  status(ref: SessionRef): Promise<StatusResponse> {
    const l = sessionLinks(ref);
    return this.withTokenOrKey(l.token, (bearer) => this.request('GET', l.statusUrl, bearer));
  }

  /** `POST /v1/sessions/:id/cancel`: the stream then ends with `cancelled` (unless it already ended). */
  cancel(ref: SessionRef): Promise<{ id: string; status: string; cancelled: boolean }> {
    const l = sessionLinks(ref);
    return this.withTokenOrKey(l.token, (bearer) => this.request('POST', ref.cancelUrl ?? `${l.statusUrl}/cancel`, bearer));
  }

  /** `POST /v1/sessions/:id/token`: a fresh subscribe token (needs the API key of the owning tenant). */
  refreshToken(ref: SessionRef): Promise<MintedToken> {
    if (!this.apiKey) return Promise.reject(new RelaycastUsageError('minting a token needs an API key'));
    return this.request('POST', sessionLinks(ref).tokenUrl, this.apiKey);
  }

  /** `GET /v1/models`: the models this key may use, or undefined when the server has no such endpoint. */
  async models(): Promise<ModelInfo[] | undefined> {
    try {
      return (await this.request<{ models: ModelInfo[] }>('GET', '/v1/models', this.apiKey)).models;
    } catch (e) {
      if (e instanceof RelaycastHttpError && e.status === 404) return undefined;
      throw e;
    }
  }

  /**
   * Status and cancel accept the session's token or the owning tenant's API key (CONTRACT.md). The token
   * goes first (a viewer's own key may belong to another tenant); when it has expired (401), the key.
   */
  private async withTokenOrKey<T>(token: string | undefined, call: (bearer: string | undefined) => Promise<T>): Promise<T> {
    try {
      return await call(token ?? this.apiKey);
    } catch (e) {
      if (token && this.apiKey && e instanceof RelaycastHttpError && e.status === 401) return call(this.apiKey);
      throw e;
    }
  }

  private request<T>(method: 'GET' | 'POST', path: string, bearer: string | undefined, body?: unknown): Promise<T> {
    return requestJson<T>({ method, url: new URL(path, this.baseUrl).toString(), bearer, body, timeoutMs: this.timeoutMs, fetch: this.fetch });
  }
}
