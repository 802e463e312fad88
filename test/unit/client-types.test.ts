import { describe, expect, it } from 'vitest';
import { EVENT_TYPES as PROTOCOL_TYPES, eventSchema, parseEvent, TERMINAL_TYPES as PROTOCOL_TERMINAL } from '@relaycast/protocol';
import { EVENT_TYPES, TERMINAL_TYPES } from '../../packages/client/src/index.js';

// The vocabulary is declared once, in packages/protocol/src/vocabulary.ts; events.ts validates it and the
// compiler rejects a schema whose payloads drift from the declared ones. These checks pin the run-time side.
describe('one event vocabulary (packages/protocol)', () => {
  it('the schema accepts exactly the declared event types', () => {
    const schemaTypes = eventSchema.options.map((o) => o.shape.type.value);
    expect([...schemaTypes].sort()).toEqual([...PROTOCOL_TYPES].sort());
  });

  it('the client listens for, and ends on, the protocol\'s own types', () => {
    expect(EVENT_TYPES).toBe(PROTOCOL_TYPES);
    expect(TERMINAL_TYPES).toBe(PROTOCOL_TERMINAL);
    expect([...TERMINAL_TYPES].sort()).toEqual(['cancelled', 'done', 'error']);
  });

  it('refuses an event whose payload does not match its type', () => {
    expect(parseEvent('delta', '{"text":"hi"}')).toEqual({ type: 'delta', text: 'hi' });
    expect(() => parseEvent('delta', '{"text":1}')).toThrow();
    expect(() => parseEvent('nope', '{}')).toThrow();
  });
});
