import { controls, intOr, promptTokens, type WireFormat } from '../wire.js';

const ev = (type: string, o: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...o })}\n\n`;

function errorType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  return status >= 500 ? 'api_error' : 'invalid_request_error';
}

/** `POST /v1/messages` with `stream: true`, as Anthropic streams it. */
export const anthropic: WireFormat = {
  path: '/v1/messages',
  contentType: 'text/event-stream',
  parse(b) {
    if (!Array.isArray(b.messages)) return 'messages: Field required';
    if (intOr(b.max_tokens) === undefined) return 'max_tokens: Field required';
    if (b.stream !== true) return 'this mock only streams: set stream: true';
    const system = typeof b.system === 'string' ? [{ content: b.system }] : [];
    const messages = [...system, ...b.messages.map((m: any) => ({ content: typeof m?.content === 'string' ? m.content : Array.isArray(m?.content) ? m.content.map((p: any) => p?.text ?? '').join('') : '' }))];
    const mock = controls(b);
    return { messages, maxTokens: b.max_tokens, seed: intOr(mock.seed, 0)!, model: String(b.model ?? 'mock'), includeUsage: true, mock };
  },
  httpError: (status, message) => ({ type: 'error', error: { type: errorType(status), message } }),
  writer(r) {
    const id = `msg_mock${(r.messages.length * 31 + r.seed).toString(36)}`;
    return {
      preamble: () =>
        ev('message_start', { message: { id, type: 'message', role: 'assistant', content: [], model: r.model, stop_reason: null, stop_sequence: null, usage: { input_tokens: promptTokens(r), output_tokens: 1 } } }) +
        ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
        ev('ping', {}),
      token: (text) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text } }),
      malformed: () => 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\n\n',
      inbandError: () => ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }),
      finish: (limited, u) =>
        ev('content_block_stop', { index: 0 }) +
        ev('message_delta', { delta: { stop_reason: limited ? 'max_tokens' : 'end_turn', stop_sequence: null }, usage: { output_tokens: u.completionTokens } }) +
        ev('message_stop', {}),
    };
  },
};
