import type { EventType, StatusResponse, StreamEvent, StreamEventOf, SubscriptionState } from './types.js';

/** The part of the WHATWG EventSource interface used here: the browser's, or the `eventsource` package's. */
export interface EventSourceLike {
  readonly readyState: number;
  onopen: ((ev: Event) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  addEventListener(type: string, listener: (ev: MessageEvent) => void): void;
  close(): void;
}
export type EventSourceConstructor = new (url: string, init?: Record<string, unknown>) => EventSourceLike;

/** Links and credentials of the session being followed; `token` and `eventsUrl` change when a token is minted. */
export interface SessionLinks {
  id: string;
  eventsUrl: string;
  statusUrl: string;
  tokenUrl: string;
  token?: string | undefined;
  /** When `token` expires (ms since the epoch), if known. */
  tokenExpiresAt?: number | undefined;
}

/** What a subscription needs from its client. */
export interface SubscriptionDeps {
  baseUrl: string;
  EventSource(): Promise<EventSourceConstructor>;
  /** Extra EventSource options (the `eventsource` package takes a `fetch`); browsers ignore them. */
  eventSourceInit: Record<string, unknown>;
  status(links: SessionLinks): Promise<StatusResponse>;
  /** Present when the client holds an API key: mints a fresh subscribe token (`POST /v1/sessions/:id/token`). */
  mintToken?: (links: SessionLinks) => Promise<MintedToken>;
}

/** What `POST /v1/sessions/:id/token` answers. */
export interface MintedToken {
  token: string;
  tokenExpiresAt: number;
  eventsUrl: string;
}

export interface SubscribeOptions {
  /** Start after this event id (replay skips everything up to it). */
  lastEventId?: string;
  /** Reopens after a permanent failure (a non-200 answer, e.g. an edge draining) before giving up. Default 5. */
  maxReopens?: number;
  /** First backoff before a reopen; doubles per consecutive failure, capped at 5 s. Default 250 ms. */
  reopenBaseMs?: number;
  /**
   * Longest time the EventSource may spend reconnecting by itself (network errors: it retries forever)
   * before the subscription gives up. Default 60 s.
   */
  resumeTimeoutMs?: number;
  /**
   * The answer and reasoning already received up to `lastEventId` (a page restoring a saved conversation):
   * `text`, `thinking` and the result start from them, so they hold the whole answer, not only what follows.
   */
  text?: string;
  thinking?: string;
}

export interface ConnectionNotice {
  kind: 'open' | 'lost' | 'reopening' | 'dropped' | 'token_refreshed' | 'failed';
  lastEventId: string | undefined;
  /** open: true when an earlier connection of this subscription was open (this one resumes it). */
  resumed?: boolean;
  /** reopening: the consecutive attempt and the delay before it. token_refreshed: the new token's expiry. */
  attempt?: number;
  delayMs?: number;
  tokenExpiresAt?: number;
  message?: string;
}

export type SubscriptionEventMap = { [T in EventType]: StreamEventOf<T> } & {
  /** Every event, in order, after the typed one. */
  event: StreamEvent;
  state: { state: SubscriptionState; previous: SubscriptionState };
  connection: ConnectionNotice;
};
