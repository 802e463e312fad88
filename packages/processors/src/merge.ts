import type { RelaycastEvent } from '@relaycast/protocol';

/**
 * Appends `e` to `last` when both are pieces of one thing: answer text, reasoning text, or the next
 * arguments of the same tool call (no new id or name). `last` must be an object the caller owns.
 * Returns whether it merged; merging never changes what a client reassembles.
 */
export function mergeInto(last: RelaycastEvent | undefined, e: RelaycastEvent): boolean {
  if (!last) return false;
  if ((e.type === 'delta' && last.type === 'delta') || (e.type === 'thinking' && last.type === 'thinking')) {
    last.text += e.text;
    return true;
  }
  if (e.type === 'tool_call' && last.type === 'tool_call' && last.index === e.index && e.id === undefined && e.name === undefined) {
    last.arguments += e.arguments;
    return true;
  }
  return false;
}

/** A copy the holder may merge into (events from decoders are not ours to change). */
export function owned<E extends RelaycastEvent>(e: E): E {
  return e.type === 'delta' || e.type === 'thinking' || e.type === 'tool_call' ? { ...e } : e;
}
