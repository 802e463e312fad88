/**
 * Relaycast's event vocabulary, declared once. Every session's stream is a sequence of these events,
 * ending with exactly one terminal event (`done`, `error` or `cancelled`). Plain types and constants, so
 * the browser client and page import them without a validator; events.ts validates against the same names.
 */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** True when the provider never reported usage and the numbers are Relaycast's own count. */
  estimated: boolean;
}

/** The payload of each event type: its fields without `type` (the type travels as the SSE `event:` field). */
export interface EventPayloads {
  delta: { text: string };
  /** A piece of the model's reasoning (Anthropic thinking, Ollama `thinking`): never part of the answer text. */
  thinking: { text: string };
  /**
   * A piece of a tool call. `arguments` is this piece's JSON-text fragment: concatenate them per `index`
   * (OpenAI streams tool calls this way; `id` and `name` come with the first piece of each call).
   */
  tool_call: { index: number; id?: string; name?: string; arguments: string };
  usage: Usage;
  reset: { reason: string; attempt: number };
  gap: { requested: string; resumedFrom: string };
  done: { finishReason: string; usage?: Usage };
  error: { code: string; message: string; retryable: boolean };
  cancelled: { reason: string };
}

export type EventType = keyof EventPayloads;
export type EventOf<T extends EventType> = { type: T } & EventPayloads[T];
export type RelaycastEvent = { [T in EventType]: EventOf<T> }[EventType];

export const EVENT_TYPES = ['delta', 'thinking', 'tool_call', 'usage', 'reset', 'gap', 'done', 'error', 'cancelled'] as const satisfies readonly EventType[];

/** Events that carry generated content: after the first of these, an upstream failure can no longer be retried. */
export const CONTENT_TYPES: ReadonlySet<EventType> = new Set(['delta', 'thinking', 'tool_call']);

/**
 * The generated content an event carries (answer, reasoning or tool-call arguments), '' for any other: what
 * output caps and usage estimates count.
 */
export function contentText(e: RelaycastEvent): string {
  return e.type === 'delta' || e.type === 'thinking' ? e.text : e.type === 'tool_call' ? e.arguments : '';
}

export const TERMINAL_TYPES: ReadonlySet<EventType> = new Set(['done', 'error', 'cancelled']);

export function isTerminal(e: { type: string }): boolean {
  return TERMINAL_TYPES.has(e.type as EventType);
}

export const sessionStatuses = ['queued', 'running', 'done', 'error', 'cancelled'] as const;
export type SessionStatus = (typeof sessionStatuses)[number];

/** One tool call as the status answer reassembles it from its `tool_call` pieces. */
export interface ToolCall {
  index: number;
  id?: string;
  name?: string;
  arguments: string;
}

/** `GET /v1/sessions/:id`: the session's state and its answer so far (deltas since the last `reset`). */
export interface StatusResponse {
  id: string;
  status: SessionStatus;
  model: string;
  text: string;
  thinking: string;
  toolCalls: ToolCall[];
  usage: Usage | null;
  finishReason: string | null;
  error: { code: string; message: string } | null;
  lastEventId: string;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  eventsUrl: string;
  statusUrl: string;
  cancelUrl: string;
  tokenUrl: string;
}
