import type { Step } from '../plan.js';
import { readStops } from '../stop.js';
import { openaiChatTools } from '../tools.js';
import { controls, intOr, type WireFormat } from '../wire.js';

const sse = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;

/**
 * OpenAI's HTTP error body (also used by the Responses API). `code` is a string or null, never a number:
 * 429 is `rate_limit_exceeded` of type `requests`, a server fault `server_error` with code null.
 */
export function openaiError(status: number, message: string) {
  if (status === 429) return { error: { message, type: 'requests', param: null, code: 'rate_limit_exceeded' } };
  if (status === 401) return { error: { message, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } };
  if (status === 404) return { error: { message, type: 'invalid_request_error', param: 'model', code: 'model_not_found' } };
  return { error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: null } };
}

/** The delta of one plan step, as OpenAI-compatible servers stream it. */
function deltaOf(s: Step, calls: { id: string; name: string }[], newPart: boolean): object {
  // Chat has no reasoning parts: the model's own blank line separates them (DeepSeek's field name).
  if (s.kind === 'reasoning') return { content: null, reasoning_content: newPart && s.part > 0 ? `\n\n${s.text}` : s.text };
  if (s.kind === 'text') return { content: s.text };
  const c = calls[s.call]!;
  // The first piece names the call; later ones repeat id and name as "" (as OpenAI-format gateways do).
  if (s.piece === 0) return { tool_calls: [{ index: s.call, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] };
  return { tool_calls: [{ index: s.call, id: '', type: 'function', function: { name: '', arguments: s.text } }] };
}

/** `POST /v1/chat/completions` with `stream: true`, as OpenAI streams it. */
export const openaiChat: WireFormat = {
  path: '/v1/chat/completions',
  contentType: 'text/event-stream',
  parse(b) {
    if (!Array.isArray(b.messages)) return 'messages is required';
    if (b.stream !== true) return 'this mock only streams: set stream: true';
    const mock = controls(b);
    const tools = openaiChatTools(b);
    if (typeof tools === 'string') return tools;
    const stop = readStops(b.stop, 'stop', { single: true, max: 4 });
    if (typeof stop === 'string') return stop;
    return { messages: b.messages, maxTokens: intOr(b.max_tokens ?? b.max_completion_tokens), seed: intOr(b.seed, intOr(mock.seed, 0))!, model: String(b.model ?? 'mock'), includeUsage: b.stream_options?.include_usage === true, stop, mock, ...tools };
  },
  httpError: openaiError,
  writer(r, plan) {
    const id = `chatcmpl-${(r.messages.length * 31 + r.seed).toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const noise = r.mock.shape?.noise === true;
    // Noise real servers send: service tier, fingerprint, `usage: null` on every chunk when usage was asked for.
    const extra = noise ? { service_tier: 'default', system_fingerprint: 'fp_mock0001', ...(r.includeUsage ? { usage: null } : {}) } : {};
    const chunk = (delta: object, finish: string | null = null) => sse({ id, object: 'chat.completion.chunk', created, model: r.model, ...extra, choices: [{ index: 0, delta, ...(noise ? { logprobs: null } : {}), finish_reason: finish }] });
    let part = 0;
    return {
      preamble: () => chunk({ role: 'assistant', content: '', ...(noise ? { refusal: null } : {}) }),
      step(s) {
        const newPart = s.kind === 'reasoning' && s.part !== part;
        if (s.kind === 'reasoning') part = s.part;
        return chunk(deltaOf(s, plan.calls, newPart));
      },
      malformed: () => 'data: {"choices":[{"delta":{"content":\n\n',
      inbandError: () => sse({ error: { message: 'mock in-band error', type: 'server_error', param: null, code: 'mock_error' } }),
      finish(limited, u, stopSequence) {
        // A stop sequence is finish_reason `stop`, as the natural end is; the calls after it never came.
        let s = chunk({}, stopSequence !== undefined ? 'stop' : limited ? 'length' : plan.calls.length ? 'tool_calls' : 'stop');
        // Usage only on request, in an extra chunk with empty choices.
        if (r.includeUsage) s += sse({ id, object: 'chat.completion.chunk', created, model: r.model, ...extra, choices: [], usage: { prompt_tokens: u.promptTokens, completion_tokens: u.completionTokens, total_tokens: u.promptTokens + u.completionTokens } });
        return `${s}data: [DONE]\n\n`;
      },
    };
  },
};
