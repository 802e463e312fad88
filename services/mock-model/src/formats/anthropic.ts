import type { MockPlan, Step } from '../plan.js';
import { readStops } from '../stop.js';
import { anthropicTools } from '../tools.js';
import { controls, intOr, promptTokens, type MockRequest, type WireFormat } from '../wire.js';

const ev = (type: string, o: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...o })}\n\n`;

function errorType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status === 529) return 'overloaded_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  return status >= 500 ? 'api_error' : 'invalid_request_error';
}

/** Stands in for the signature that verifies a thinking block (opaque to the reader). */
const SIGNATURE = 'EqQBCkgIARABGAIiQG1vY2stc2lnbmF0dXJlLW5vdC1hLXJlYWwtb25lLWp1c3QtdGhlLXNoYXBlLW9mLWl0LXRvLWtlZXAtY2xpZW50cy1oYXBweRIMbW9jaw==';

/**
 * Content blocks as Anthropic streams them: a block opens when a step of another kind (or part, block,
 * call) comes, and the open one closes first (a thinking block with its signature).
 */
function blockWriter(plan: MockPlan) {
  let open: { key: string; index: number; kind: Step['kind'] } | undefined;
  let next = 0;
  const close = () => {
    if (!open) return '';
    const sig = open.kind === 'reasoning' ? ev('content_block_delta', { index: open.index, delta: { type: 'signature_delta', signature: SIGNATURE } }) : '';
    const s = sig + ev('content_block_stop', { index: open.index });
    open = undefined;
    return s;
  };
  const start = (s: Step): string => {
    const key = s.kind === 'reasoning' ? `r${s.part}` : s.kind === 'text' ? `t${s.block}` : `c${s.call}`;
    if (open?.key === key) return '';
    const closed = close();
    open = { key, index: next++, kind: s.kind };
    const c = s.kind === 'tool' ? plan.calls[s.call]! : undefined;
    const block = s.kind === 'reasoning' ? { type: 'thinking', thinking: '', signature: '' } : c ? { type: 'tool_use', id: c.id.replace(/^call_/, 'toolu_'), name: c.name, input: {} } : { type: 'text', text: '' };
    return closed + ev('content_block_start', { index: open.index, content_block: block });
  };
  const step = (s: Step): string => {
    const opened = start(s);
    const index = open!.index;
    if (s.kind === 'reasoning') return opened + ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: s.text } });
    if (s.kind === 'text') return opened + ev('content_block_delta', { index, delta: { type: 'text_delta', text: s.text } });
    // A tool's input starts with an empty piece, as the API sends it.
    return opened + ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: s.text } });
  };
  return { step, close };
}

function preamble(r: MockRequest): string {
  const id = `msg_mock${(r.messages.length * 31 + r.seed).toString(36)}`;
  const noise = r.mock.shape?.noise === true;
  // With noise, message_start has a provisional input count that message_delta revises (as real streams do).
  const usage = { input_tokens: noise ? 1 : promptTokens(r), cache_creation_input_tokens: 0, cache_read_input_tokens: 0, ...(noise ? { cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 } } : {}), output_tokens: 1, ...(noise ? { service_tier: 'standard' } : {}) };
  return ev('message_start', { message: { id, type: 'message', role: 'assistant', content: [], model: r.model, stop_reason: null, stop_sequence: null, usage } }) + ev('ping', {});
}

/** message_delta's `delta`: why the message ended, and which of the request's stop sequences it met. */
function stopOf(limited: boolean, plan: MockPlan, stopSequence: string | undefined) {
  if (stopSequence !== undefined) return { stop_reason: 'stop_sequence', stop_sequence: stopSequence };
  return { stop_reason: limited ? 'max_tokens' : plan.calls.length ? 'tool_use' : 'end_turn', stop_sequence: null };
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
    const tools = anthropicTools(b);
    if (typeof tools === 'string') return tools;
    const stop = readStops(b.stop_sequences, 'stop_sequences');
    if (typeof stop === 'string') return stop;
    return { messages, maxTokens: b.max_tokens, seed: intOr(mock.seed, 0)!, model: String(b.model ?? 'mock'), includeUsage: true, stop, mock, ...tools };
  },
  httpError: (status, message) => ({ type: 'error', error: { type: errorType(status), message } }),
  writer(r, plan) {
    const blocks = blockWriter(plan);
    return {
      preamble: () => preamble(r),
      step: blocks.step,
      malformed: () => 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\n\n',
      inbandError: () => ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }),
      finish: (limited, u, stopSequence) =>
        blocks.close() +
        // message_delta's usage is cumulative and carries input and cache counts too.
        ev('message_delta', { delta: stopOf(limited, plan, stopSequence), usage: { input_tokens: u.promptTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: u.completionTokens } }) +
        ev('message_stop', {}),
    };
  },
};
