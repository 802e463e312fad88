import { z } from 'zod';

/**
 * Relaycast's event vocabulary. Every session's stream is a sequence of these, ending with exactly one
 * terminal event (`done`, `error` or `cancelled`).
 */
export const usageSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  /** True when the provider never reported usage and the numbers are Relaycast's own count. */
  estimated: z.boolean(),
});
export type Usage = z.infer<typeof usageSchema>;

export const eventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('delta'), text: z.string() }),
  /** A piece of the model's reasoning (Anthropic thinking, Ollama `thinking`): never part of the answer text. */
  z.object({ type: z.literal('thinking'), text: z.string() }),
  /**
   * A piece of a tool call. `arguments` is this piece's JSON-text fragment: concatenate them per `index`
   * (OpenAI streams tool calls this way; `id` and `name` come with the first piece of each call).
   */
  z.object({ type: z.literal('tool_call'), index: z.number().int().nonnegative(), id: z.string().optional(), name: z.string().optional(), arguments: z.string() }),
  z.object({ type: z.literal('usage'), inputTokens: z.number().int().nonnegative(), outputTokens: z.number().int().nonnegative(), estimated: z.boolean() }),
  z.object({ type: z.literal('reset'), reason: z.string(), attempt: z.number().int().positive() }),
  z.object({ type: z.literal('gap'), requested: z.string(), resumedFrom: z.string() }),
  z.object({ type: z.literal('done'), finishReason: z.string(), usage: usageSchema.optional() }),
  z.object({ type: z.literal('error'), code: z.string(), message: z.string(), retryable: z.boolean() }),
  z.object({ type: z.literal('cancelled'), reason: z.string() }),
]);

export type RelaycastEvent = z.infer<typeof eventSchema>;
export type EventType = RelaycastEvent['type'];
export type EventOf<T extends EventType> = Extract<RelaycastEvent, { type: T }>;

/** Events that carry generated content: after the first of these, an upstream failure can no longer be retried. */
export const CONTENT_TYPES: ReadonlySet<EventType> = new Set(['delta', 'thinking', 'tool_call']);

export const TERMINAL_TYPES: ReadonlySet<EventType> = new Set(['done', 'error', 'cancelled']);

export function isTerminal(e: { type: string }): boolean {
  return TERMINAL_TYPES.has(e.type as EventType);
}

/** The wire payload of an event: its fields without `type` (the type travels as the SSE `event:` field). */
export function eventData(e: RelaycastEvent): string {
  const { type: _type, ...rest } = e;
  return JSON.stringify(rest);
}

/** Inverse of {@link eventData}: validates, so a corrupt stream entry is caught rather than forwarded. */
export function parseEvent(type: string, data: string): RelaycastEvent {
  return eventSchema.parse({ ...JSON.parse(data), type });
}

/** Terminal outcome → session status recorded in metadata. */
export const STATUS_OF_TERMINAL = { done: 'done', error: 'error', cancelled: 'cancelled' } as const;
export const sessionStatuses = ['queued', 'running', 'done', 'error', 'cancelled'] as const;
export type SessionStatus = (typeof sessionStatuses)[number];
