import type { EventSourceConstructor } from './subscription-types.js';

/**
 * Node: the `eventsource` package (WHATWG-conformant, reconnects with Last-Event-ID like a browser), loaded
 * only when first needed. package.json maps `#eventsource` here for every environment but browsers.
 */
export async function defaultEventSource(): Promise<EventSourceConstructor> {
  const { EventSource } = await import('eventsource');
  return EventSource as unknown as EventSourceConstructor;
}
