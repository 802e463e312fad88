import { describe, expect, it } from 'vitest';
import { eventSchema, TERMINAL_TYPES as SHARED_TERMINAL, type EventOf, type EventType as SharedEventType } from '@relaycast/shared';
import { EVENT_TYPES, TERMINAL_TYPES, type EventPayloads } from '../../packages/client/src/index.js';

// The client declares the wire vocabulary itself (it must load in a browser, without zod or ioredis).
// These checks keep it the same as the server's: at run time (the type names) and under `npm run typecheck`
// (every server payload is assignable to the client's payload of the same name).
type Same<T extends SharedEventType> = Omit<EventOf<T>, 'type'> extends EventPayloads[T] ? true : never;
const payloadsMatch: { [T in SharedEventType]: Same<T> } = { delta: true, usage: true, reset: true, gap: true, done: true, error: true, cancelled: true, thinking: true, tool_call: true };

describe('the client\'s event vocabulary matches packages/shared', () => {
  it('listens for every event type the server sends', () => {
    const server = eventSchema.options.map((o) => o.shape.type.value);
    expect(server.filter((t) => !EVENT_TYPES.includes(t))).toEqual([]);
    expect(Object.keys(payloadsMatch).sort()).toEqual([...server].sort());
  });

  it('ends on exactly the server\'s terminal types', () => {
    expect([...TERMINAL_TYPES].sort()).toEqual([...SHARED_TERMINAL].sort());
  });
});
