import type { MockPlan, Step } from '../plan.js';
import { controls, intOr, type FrameWriter, type MockRequest, type Usage, type WireFormat } from '../wire.js';
import { responsesTools } from '../tools.js';
import { openaiError } from './openai-chat.js';

/** `input` is a string or a list of messages whose content is a string or a list of input_text parts. */
function messagesOf(input: unknown): { content: string }[] | undefined {
  if (typeof input === 'string') return [{ content: input }];
  if (!Array.isArray(input)) return undefined;
  return input.map((m: any) => ({ content: typeof m?.content === 'string' ? m.content : Array.isArray(m?.content) ? m.content.map((p: any) => p?.text ?? '').join('') : '' }));
}

interface OpenItem {
  kind: Step['kind'];
  key: string;
  id: string;
  index: number;
  /** Text of each part (summary part, content part) or the call's arguments (one part). */
  parts: string[];
  call?: number;
}

/**
 * The Responses event sequence for a plan: one reasoning item (a summary part per reasoning part), one
 * message (a content part per block), a function_call item per call; every item added, streamed, done.
 */
class ResponsesWriter implements FrameWriter {
  private seq = 0;
  private readonly id: string;
  private readonly output: object[] = [];
  private open: OpenItem | undefined;

  constructor(private readonly r: MockRequest, private readonly plan: MockPlan) {
    this.id = `resp_${(r.messages.length * 31 + r.seed).toString(36)}`;
  }

  private ev(type: string, o: object): string {
    return `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: this.seq++, ...o })}\n\n`;
  }

  private response(status: string, extra: object = {}): object {
    const noise = this.r.mock.shape?.noise ? { background: false, error: null, incomplete_details: null, service_tier: 'default', store: false, usage: null, metadata: {} } : {};
    return { id: this.id, object: 'response', created_at: Math.floor(Date.now() / 1000), status, model: this.r.model, output: [], ...noise, ...extra };
  }

  /** Noise real servers add to every delta. */
  private get obfuscation(): object {
    return this.r.mock.shape?.noise ? { obfuscation: 'mOcK' } : {};
  }

  preamble(): string {
    return this.ev('response.created', { response: this.response('in_progress') }) + this.ev('response.in_progress', { response: this.response('in_progress') });
  }

  step(s: Step): string {
    const key = s.kind === 'tool' ? `c${s.call}` : s.kind;
    let out = '';
    if (this.open?.key !== key) out += this.closeItem() + this.openItem(s, key);
    const item = this.open!;
    const at = { item_id: item.id, output_index: item.index };
    if (s.kind === 'reasoning') {
      if (item.parts.length <= s.part) out += this.closePart() + this.ev('response.reasoning_summary_part.added', { ...at, summary_index: s.part, part: { type: 'summary_text', text: '' } });
      item.parts[s.part] = (item.parts[s.part] ?? '') + s.text;
      return out + this.ev('response.reasoning_summary_text.delta', { ...at, summary_index: s.part, delta: s.text, ...this.obfuscation });
    }
    if (s.kind === 'text') {
      if (item.parts.length <= s.block) out += this.closePart() + this.ev('response.content_part.added', { ...at, content_index: s.block, part: { type: 'output_text', text: '', annotations: [] } });
      item.parts[s.block] = (item.parts[s.block] ?? '') + s.text;
      return out + this.ev('response.output_text.delta', { ...at, content_index: s.block, delta: s.text, logprobs: [], ...this.obfuscation });
    }
    if (s.piece === 0) return out;
    item.parts[0] += s.text;
    return out + this.ev('response.function_call_arguments.delta', { ...at, delta: s.text, ...this.obfuscation });
  }

  private openItem(s: Step, key: string): string {
    const index = this.output.length;
    const base = this.id.slice(5);
    if (s.kind === 'tool') {
      const c = this.plan.calls[s.call]!;
      this.open = { kind: s.kind, key, id: `fc_${base}_${s.call}`, index, parts: [''], call: s.call };
      return this.ev('response.output_item.added', { output_index: index, item: { id: this.open.id, type: 'function_call', status: 'in_progress', arguments: '', call_id: c.id, name: c.name } });
    }
    this.open = { kind: s.kind, key, id: `${s.kind === 'reasoning' ? 'rs' : 'msg'}_${base}`, index, parts: [] };
    const item = s.kind === 'reasoning' ? { id: this.open.id, type: 'reasoning', summary: [] } : { id: this.open.id, type: 'message', status: 'in_progress', role: 'assistant', content: [] };
    return this.ev('response.output_item.added', { output_index: index, item });
  }

  /** Ends the open item's last summary or content part. */
  private closePart(): string {
    const item = this.open!;
    const last = item.parts.length - 1;
    if (last < 0 || item.kind === 'tool') return '';
    const at = { item_id: item.id, output_index: item.index };
    const text = item.parts[last]!;
    if (item.kind === 'reasoning') return this.ev('response.reasoning_summary_text.done', { ...at, summary_index: last, text }) + this.ev('response.reasoning_summary_part.done', { ...at, summary_index: last, part: { type: 'summary_text', text } });
    return this.ev('response.output_text.done', { ...at, content_index: last, text, logprobs: [] }) + this.ev('response.content_part.done', { ...at, content_index: last, part: { type: 'output_text', text, annotations: [] } });
  }

  private closeItem(status = 'completed'): string {
    const item = this.open;
    if (!item) return '';
    let out = this.closePart();
    let done: object;
    if (item.kind === 'tool') {
      const c = this.plan.calls[item.call!]!;
      out += this.ev('response.function_call_arguments.done', { item_id: item.id, output_index: item.index, arguments: item.parts[0] });
      done = { id: item.id, type: 'function_call', status: 'completed', arguments: item.parts[0], call_id: c.id, name: c.name };
    } else if (item.kind === 'reasoning') done = { id: item.id, type: 'reasoning', summary: item.parts.map((text) => ({ type: 'summary_text', text })) };
    else done = { id: item.id, type: 'message', status, role: 'assistant', content: item.parts.map((text) => ({ type: 'output_text', text, annotations: [] })) };
    this.output.push(done);
    this.open = undefined;
    return out + this.ev('response.output_item.done', { output_index: item.index, item: done });
  }

  malformed(): string {
    return `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":${this.seq++},"delta":\n\n`;
  }

  /** As OpenAI sends it: the error nested in an `error` event, then `response.failed`. */
  inbandError(): string {
    const error = { type: 'server_error', code: 'server_error', message: 'mock in-band error', param: null };
    return this.ev('error', { error }) + this.ev('response.failed', { response: this.response('failed', { error: { code: error.code, message: error.message } }) });
  }

  finish(limited: boolean, u: Usage): string {
    const out = this.closeItem(limited ? 'incomplete' : 'completed');
    const usage = { input_tokens: u.promptTokens, input_tokens_details: { cached_tokens: 0 }, output_tokens: u.completionTokens, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: u.promptTokens + u.completionTokens };
    if (limited) return out + this.ev('response.incomplete', { response: this.response('incomplete', { output: this.output, incomplete_details: { reason: 'max_output_tokens' }, usage }) });
    return out + this.ev('response.completed', { response: this.response('completed', { output: this.output, usage }) });
  }
}

/** `POST /v1/responses` with `stream: true`: named events with sequence numbers. */
export const openaiResponses: WireFormat = {
  path: '/v1/responses',
  contentType: 'text/event-stream',
  parse(b) {
    const messages = messagesOf(b.input);
    if (!messages) return 'input is required';
    if (b.stream !== true) return 'this mock only streams: set stream: true';
    // The Responses API has no stop sequences, and refuses fields it does not know.
    if (b.stop !== undefined) return "Unknown parameter: 'stop'.";
    const mock = controls(b);
    const tools = responsesTools(b);
    if (typeof tools === 'string') return tools;
    return { messages, maxTokens: intOr(b.max_output_tokens), seed: intOr(mock.seed, 0)!, model: String(b.model ?? 'mock'), includeUsage: true, mock, ...tools };
  },
  httpError: openaiError,
  writer: (r, plan) => new ResponsesWriter(r, plan),
};
