import type { Route } from '@relaycast/shared';
import { openai } from './openai.js';
import type { Provider } from './provider.js';

const PROVIDERS: Record<Route['provider'], Provider> = { openai };

export function providerFor(route: Route): Provider {
  return PROVIDERS[route.provider];
}
export type { Provider, StreamDecoder, UpstreamMessage, UpstreamRequest } from './provider.js';
