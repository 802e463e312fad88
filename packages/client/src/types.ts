/**
 * What the client speaks: the wire vocabulary comes from @relaycast/protocol (browser-safe; declared once
 * there for the edge, ingest, the page and the tests alike); the rest is this library's own API.
 */
import type { EventPayloads, EventType, JobMessage, ToolChoice, ToolDefinition, Usage } from '@relaycast/protocol';

export { EVENT_TYPES, TERMINAL_TYPES } from '@relaycast/protocol';
export type { EventPayloads, EventType, SessionStatus, StatusResponse, ToolCall, ToolCallRecord, ToolChoice, ToolDefinition, Usage } from '@relaycast/protocol';

/**
 * A payload as the client hands it on: a tool call's own id is `callId`, since `id` is the event's SSE id
 * (the cursor to resume from), which every event carries.
 */
type ReceivedPayload<T extends EventType> = T extends 'tool_call' ? Omit<EventPayloads['tool_call'], 'id'> & { callId?: string } : EventPayloads[T];

/** One received event: its SSE id (absent on a few synthetic frames), type and parsed payload. */
export type StreamEvent = { [T in EventType]: { id: string | undefined; type: T } & ReceivedPayload<T> }[EventType];
export type StreamEventOf<T extends EventType> = Extract<StreamEvent, { type: T }>;

/** A text message, an assistant turn that called tools (`toolCalls`), or a tool's result (`role: 'tool'`). */
export type Message = JobMessage;

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
  /** Functions the model may call (README, Tools), and how it chooses among them. */
  tools?: ToolDefinition[];
  tool_choice?: ToolChoice;
  /** The answer ends before the first of these (a string, or up to 4), with finish reason `stop`. */
  stop?: string | string[];
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
