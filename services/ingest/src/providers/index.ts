import type { ProviderName, Route } from '@relaycast/shared';
import { anthropic } from './anthropic.js';
import { ollama } from './ollama.js';
import { openai } from './openai.js';
import { openaiResponses } from './openai-responses.js';
import type { Provider } from './provider.js';
import { sse } from './sse.js';

export const PROVIDER_ADAPTERS: Record<ProviderName, Provider> = { openai, 'openai-responses': openaiResponses, anthropic, ollama, sse };

export function providerFor(route: Route): Provider {
  return PROVIDER_ADAPTERS[route.provider];
}
export type { Provider, StreamDecoder, UpstreamMessage, UpstreamRequest } from './provider.js';
