import { z } from 'zod';
import { EVENT_TYPES, eventData, eventSchema, TERMINAL_TYPES, type ErrorCode, type RelaycastEvent } from '@relaycast/protocol';

/** Types only Relaycast itself writes: a producer sending one would fake a resume boundary or a hole. */
const RESERVED = new Set(['reset', 'gap', 'message']);
const BUILTIN = new Set<string>(EVENT_TYPES);

/**
 * A custom event's type travels as the SSE `event:` field: letters first, then letters, digits and `_ . : -`,
 * at most 64. No CR, LF, NUL or space can pass, so a name can never start another SSE field (the encoder's
 * rule, checked here before anything is stored), and none may shadow a built-in type.
 */
export const CUSTOM_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

/** Whether a stored entry's type is a producer's own (the status endpoint folds only built-in types). */
export function isCustomEventType(type: string): boolean {
  return !BUILTIN.has(type);
}

/** One event as stored: the type and the JSON text that travel on the wire. */
export interface WireEvent {
  type: string;
  data: string;
}

/** A publish event, validated: a built-in one (parsed) or a custom one (its JSON data as text). */
export type PublishEvent = { kind: 'builtin'; event: RelaycastEvent; bytes: number } | { kind: 'custom'; wire: WireEvent; bytes: number };

/** Bad input: its code (the catalogue gives the status) and a message naming the event at fault. */
export class PublishInputError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

const customSchema = z.strictObject({ type: z.string(), data: z.json() });

/**
 * Validates one publish event; `where` names it in the error (`events[3]`, `line 7`). Sizes are the JSON text
 * of what would be stored, so the limit means the same for a batch and a stream.
 */
export function parsePublishEvent(raw: unknown, where: string, maxBytes: number): PublishEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PublishInputError('invalid_event', `${where}: an event is a JSON object with a "type"`);
  const type = (raw as { type?: unknown }).type;
  if (typeof type !== 'string') throw new PublishInputError('invalid_event', `${where}: "type" must be a string`);
  if (RESERVED.has(type)) throw new PublishInputError('invalid_event', `${where}: type ${JSON.stringify(type)} is reserved for Relaycast`);
  if (BUILTIN.has(type)) {
    const parsed = eventSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new PublishInputError('invalid_event', `${where}: ${issue.path.join('.') || type}: ${issue.message}`);
    }
    // The protocol's own cast (its parseEvent does the same): the schema is checked against the vocabulary there.
    const event = parsed.data as RelaycastEvent;
    const bytes = Buffer.byteLength(eventData(event));
    if (bytes > maxBytes) throw new PublishInputError('event_too_large', `${where}: ${bytes} bytes of data exceed ${maxBytes}`);
    return { kind: 'builtin', event, bytes };
  }
  if (!CUSTOM_TYPE.test(type)) throw new PublishInputError('invalid_event', `${where}: custom type ${JSON.stringify(type.slice(0, 80))} must match ${CUSTOM_TYPE.source}`);
  const parsed = customSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PublishInputError('invalid_event', `${where}: ${issue.path.join('.') || type}: ${issue.message} (a custom event is {type, data})`);
  }
  const data = JSON.stringify(parsed.data.data);
  const bytes = Buffer.byteLength(data);
  if (bytes > maxBytes) throw new PublishInputError('event_too_large', `${where}: ${bytes} bytes of data exceed ${maxBytes}`);
  return { kind: 'custom', wire: { type, data }, bytes };
}

/** Checks that only the last event of a batch (or stream) is a terminal one. */
export function checkTerminalLast(events: readonly PublishEvent[], label: (i: number) => string): void {
  events.forEach((e, i) => {
    if (e.kind === 'builtin' && TERMINAL_TYPES.has(e.event.type) && i !== events.length - 1) {
      throw new PublishInputError('invalid_event', `${label(i)}: a terminal event (${e.event.type}) must be the last one`);
    }
  });
}

export function toWire(e: RelaycastEvent): WireEvent {
  return { type: e.type, data: eventData(e) };
}
