import { z } from 'zod';
import type { EventPayloads, EventType, RelaycastEvent } from './vocabulary.js';

/**
 * Run-time validation of the vocabulary in vocabulary.ts. `satisfies` below makes the compiler reject a
 * schema that drifts from the declared payloads, in either direction.
 */
export const usageSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  estimated: z.boolean(),
});

const count = z.number().int().nonnegative();
const payloadSchemas = {
  delta: z.object({ text: z.string() }),
  thinking: z.object({ text: z.string() }),
  tool_call: z.object({ index: count, id: z.string().optional(), name: z.string().optional(), arguments: z.string() }),
  usage: usageSchema,
  reset: z.object({ reason: z.string(), attempt: z.number().int().positive() }),
  gap: z.object({ requested: z.string(), resumedFrom: z.string() }),
  done: z.object({ finishReason: z.string(), usage: usageSchema.optional() }),
  error: z.object({ code: z.string(), message: z.string(), retryable: z.boolean() }),
  cancelled: z.object({ reason: z.string() }),
} satisfies { [T in EventType]: z.ZodType<EventPayloads[T]> };

type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const _schemasMatch: { [T in EventType]: Exact<z.infer<(typeof payloadSchemas)[T]>, EventPayloads[T]> } = {
  delta: true, thinking: true, tool_call: true, usage: true, reset: true, gap: true, done: true, error: true, cancelled: true,
};
void _schemasMatch;

const variant = <T extends EventType>(type: T) => payloadSchemas[type].extend({ type: z.literal(type) });
export const eventSchema = z.discriminatedUnion('type', [
  variant('delta'), variant('thinking'), variant('tool_call'), variant('usage'), variant('reset'),
  variant('gap'), variant('done'), variant('error'), variant('cancelled'),
]);

/** The wire payload of an event: its fields without `type` (the type travels as the SSE `event:` field). */
export function eventData(e: RelaycastEvent): string {
  const { type: _type, ...rest } = e;
  return JSON.stringify(rest);
}

/** Inverse of {@link eventData}: validates, so a corrupt stream entry is caught rather than forwarded. */
export function parseEvent(type: string, data: string): RelaycastEvent {
  return eventSchema.parse({ ...JSON.parse(data), type }) as RelaycastEvent;
}
