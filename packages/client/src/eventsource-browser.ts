import type { EventSourceConstructor } from './subscription-types.js';

/** Browsers: the native EventSource. package.json maps `#eventsource` here under the `browser` condition. */
export async function defaultEventSource(): Promise<EventSourceConstructor> {
  if (typeof globalThis.EventSource !== 'function') throw new Error('this environment has no EventSource; pass one in the client options');
  return globalThis.EventSource as unknown as EventSourceConstructor;
}
