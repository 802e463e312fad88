import { controls, intOr, type WireFormat } from '../wire.js';
import { openaiError } from './openai-chat.js';

/** `input` is a string or a list of messages whose content is a string or a list of input_text parts. */
function messagesOf(input: unknown): { content: string }[] | undefined {
  if (typeof input === 'string') return [{ content: input }];
  if (!Array.isArray(input)) return undefined;
  return input.map((m: any) => ({ content: typeof m?.content === 'string' ? m.content : Array.isArray(m?.content) ? m.content.map((p: any) => p?.text ?? '').join('') : '' }));
}

/** `POST /v1/responses` with `stream: true`: named events with sequence numbers. */
export const openaiResponses: WireFormat = {
  path: '/v1/responses',
  contentType: 'text/event-stream',
  parse(b) {
    const messages = messagesOf(b.input);
    if (!messages) return 'input is required';
    if (b.stream !== true) return 'this mock only streams: set stream: true';
    const mock = controls(b);
    return { messages, maxTokens: intOr(b.max_output_tokens), seed: intOr(mock.seed, 0)!, model: String(b.model ?? 'mock'), includeUsage: true, mock };
  },
  httpError: openaiError,
  writer(r) {
    let seq = 0;
    const id = `resp_${(r.messages.length * 31 + r.seed).toString(36)}`;
    const itemId = `msg_${id.slice(5)}`;
    const response = (status: string, extra: object = {}) => ({ id, object: 'response', created_at: Math.floor(Date.now() / 1000), status, model: r.model, output: [], ...extra });
    const ev = (type: string, o: object) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...o })}\n\n`;
    const part = { item_id: itemId, output_index: 0, content_index: 0 };
    let text = '';
    return {
      preamble: () =>
        ev('response.created', { response: response('in_progress') }) +
        ev('response.in_progress', { response: response('in_progress') }) +
        ev('response.output_item.added', { output_index: 0, item: { id: itemId, type: 'message', status: 'in_progress', role: 'assistant', content: [] } }) +
        ev('response.content_part.added', { ...part, part: { type: 'output_text', text: '', annotations: [] } }),
      token(t) {
        text += t;
        return ev('response.output_text.delta', { ...part, delta: t });
      },
      malformed: () => `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":${seq++},"delta":\n\n`,
      inbandError: () => ev('error', { code: 'server_error', message: 'mock in-band error', param: null }),
      finish(limited, u) {
        const usage = { input_tokens: u.promptTokens, output_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens };
        const item = { id: itemId, type: 'message', status: limited ? 'incomplete' : 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] };
        return (
          ev('response.output_text.done', { ...part, text }) +
          ev('response.content_part.done', { ...part, part: { type: 'output_text', text, annotations: [] } }) +
          ev('response.output_item.done', { output_index: 0, item }) +
          (limited
            ? ev('response.incomplete', { response: response('incomplete', { output: [item], incomplete_details: { reason: 'max_output_tokens' }, usage }) })
            : ev('response.completed', { response: response('completed', { output: [item], usage }) }))
        );
      },
    };
  },
};
