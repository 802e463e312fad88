/**
 * The wire vocabulary as a client sees it (README "Events"; CONTRACT.md "The event stream"). Declared here
 * rather than imported from @relaycast/shared, which carries zod, ioredis and pino: this package must load in
 * a browser. test/unit/client-types.test.ts checks the two stay the same.
 */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** True when the provider never reported usage and the numbers are Relaycast's own count. */
  estimated: boolean;
}

export interface EventPayloads {
  delta: { text: string };
  usage: Usage;
  reset: { reason: string; attempt: number };
  gap: { requested: string; resumedFrom: string };
  done: { finishReason: string; usage?: Usage };
  error: { code: string; message: string; retryable: boolean };
  cancelled: { reason: string };
  /** Added by the providers branch: a piece of the model's reasoning, not part of the answer. */
  thinking: { text: string };
  /** Added by the providers branch: a fragment of a tool call; `arguments` concatenate per `index`. */
  tool_call: { index: number; id?: string; name?: string; arguments: string };
}

export type EventType = keyof EventPayloads;
export const EVENT_TYPES: readonly EventType[] = ['delta', 'usage', 'reset', 'gap', 'done', 'error', 'cancelled', 'thinking', 'tool_call'];
export const TERMINAL_TYPES: ReadonlySet<EventType> = new Set(['done', 'error', 'cancelled']);

/** One received event: its SSE id (absent on a few synthetic frames), type and parsed payload. */
export type StreamEvent = { [T in EventType]: { id: string | undefined; type: T } & EventPayloads[T] }[EventType];
export type StreamEventOf<T extends EventType> = Extract<StreamEvent, { type: T }>;

export interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Controls of the mock model (services/mock-model), accepted by routes that allow them. */
export interface MockControls {
  intervalMs?: number;
  firstTokenMs?: number;
  fault?: string;
  transcript?: string;
  /** What the generated stream holds besides text: reasoning parts, blocks, tool calls (0-8 each), noise fields. */
  shape?: { reasoning?: number; blocks?: number; tools?: number; noise?: boolean };
}

export interface CreateSessionRequest {
  messages: Message[];
  model?: string;
  max_tokens?: number;
  temperature?: number;
  seed?: number;
  mock?: MockControls;
}

/**
 * What `POST /v1/sessions` answers (201). `eventsUrl` carries `?token=<token>`, ready for an EventSource;
 * `token` also authorizes status and cancel, until `tokenExpiresAt` (ms since the epoch); `tokenUrl` mints
 * another with the API key.
 */
export interface SessionInfo {
  id: string;
  model: string;
  token: string;
  tokenExpiresAt: number;
  eventsUrl: string;
  statusUrl: string;
  cancelUrl: string;
  tokenUrl: string;
}

/** What a subscription needs: a create response, or an id (plus the token) shared by someone else. */
export type SessionRef = Pick<SessionInfo, 'id'> & Partial<Omit<SessionInfo, 'id'>>;

export type SessionStatus = 'queued' | 'running' | 'done' | 'error' | 'cancelled';

/** `GET /v1/sessions/:id` (the session's token, or an API key of its tenant). */
export interface StatusResponse {
  id: string;
  status: SessionStatus;
  model: string;
  text: string;
  usage: Usage | null;
  finishReason: string | null;
  error: { code: string; message: string } | null;
  lastEventId: string;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
}

export interface ModelInfo {
  id: string;
  provider: string;
  description?: string;
}

/**
 * connecting: first connection; live: connected and receiving; resuming: the connection dropped and is
 * being re-established from the last id; done / error / cancelled: the session ended (or, for error, the
 * stream could not be followed); closed: the caller closed the subscription.
 */
export type SubscriptionState = 'connecting' | 'live' | 'resuming' | 'done' | 'error' | 'cancelled' | 'closed';
export const FINAL_STATES: ReadonlySet<SubscriptionState> = new Set(['done', 'error', 'cancelled', 'closed']);

export interface ResultError {
  code: string;
  message: string;
  retryable: boolean;
  /** `server`: the session ended with an `error` event; `client`: this client could not follow the stream. */
  source: 'server' | 'client';
}

export interface SubscriptionResult {
  status: 'done' | 'error' | 'cancelled' | 'closed';
  /** The answer: deltas since the last `reset`. */
  text: string;
  finishReason?: string;
  usage?: Usage;
  error?: ResultError;
  /** The reason a `cancelled` event gave. */
  cancelReason?: string;
  lastEventId: string | undefined;
  /** `gap` events seen: the text misses whatever those events held. */
  gaps: EventPayloads['gap'][];
}
