import { readStops } from '../stop.js';
import { controls, intOr, type WireFormat } from '../wire.js';

/**
 * `POST /v1/sse`: a plain SSE source, the kind Relaycast's `sse` provider passes through. Each token is
 * `data: {"text": ...}`, the end is `data: [DONE]`, an error is an `error` event; no usage.
 */
export const plainSse: WireFormat = {
  path: '/v1/sse',
  contentType: 'text/event-stream',
  parse(b) {
    const messages = Array.isArray(b.messages) ? b.messages : typeof b.prompt === 'string' ? [{ content: b.prompt }] : undefined;
    if (!messages) return 'messages or prompt is required';
    const mock = controls(b);
    // A route's body template may send the request's sequences as `stop` ({{stop}}).
    const stop = readStops(b.stop, 'stop', { single: true });
    if (typeof stop === 'string') return stop;
    return { messages, maxTokens: intOr(b.max_tokens), seed: intOr(b.seed, intOr(mock.seed, 0))!, model: String(b.model ?? 'mock'), includeUsage: false, stop, mock };
  },
  httpError: (status, message) => ({ error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error' } }),
  writer: () => ({
    preamble: () => ': mock sse\n\n',
    // A plain source has only text: reasoning and tool calls are not sent.
    step: (s) => (s.kind === 'text' ? `data: ${JSON.stringify({ text: s.text })}\n\n` : ''),
    malformed: () => 'data: {"text":\n\n',
    inbandError: () => `event: error\ndata: ${JSON.stringify({ error: { message: 'mock in-band error', type: 'server_error' } })}\n\n`,
    finish: () => 'data: [DONE]\n\n',
  }),
};
