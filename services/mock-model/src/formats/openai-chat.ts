import { controls, intOr, type WireFormat } from '../wire.js';

const sse = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;

/** OpenAI's HTTP error body (also used by the Responses API). */
export function openaiError(status: number, message: string) {
  const type = status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message, type, param: null, code: status } };
}

/** `POST /v1/chat/completions` with `stream: true`, as OpenAI streams it. */
export const openaiChat: WireFormat = {
  path: '/v1/chat/completions',
  contentType: 'text/event-stream',
  parse(b) {
    if (!Array.isArray(b.messages)) return 'messages is required';
    if (b.stream !== true) return 'this mock only streams: set stream: true';
    const mock = controls(b);
    return { messages: b.messages, maxTokens: intOr(b.max_tokens ?? b.max_completion_tokens), seed: intOr(b.seed, intOr(mock.seed, 0))!, model: String(b.model ?? 'mock'), includeUsage: b.stream_options?.include_usage === true, mock };
  },
  httpError: openaiError,
  writer(r) {
    const id = `chatcmpl-${(r.messages.length * 31 + r.seed).toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const chunk = (delta: object, finish: string | null = null) => sse({ id, object: 'chat.completion.chunk', created, model: r.model, choices: [{ index: 0, delta, finish_reason: finish }] });
    return {
      preamble: () => chunk({ role: 'assistant', content: '' }),
      token: (text) => chunk({ content: text }),
      malformed: () => 'data: {"choices":[{"delta":{"content":\n\n',
      inbandError: () => sse({ error: { message: 'mock in-band error', type: 'server_error', code: 'mock_error' } }),
      finish(limited, u) {
        let s = chunk({}, limited ? 'length' : 'stop');
        // Usage only on request, in an extra chunk with empty choices.
        if (r.includeUsage) s += sse({ id, object: 'chat.completion.chunk', created, model: r.model, choices: [], usage: { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens } });
        return `${s}data: [DONE]\n\n`;
      },
    };
  },
};
