import type { ToolChoice, ToolDefinition, Usage } from '@relaycast/protocol';
import { RESTARTED, emptyAnswer, fold, type NativeData } from './answer.js';
import type { NativeEvent } from './stream.js';

/** The request fields a Response repeats, kept beside the session so any edge can answer for it. */
export interface ResponseRequest {
  background: boolean;
  instructions: string | null;
  max_output_tokens: number | null;
  temperature: number | null;
  metadata: Record<string, string>;
  /** As the Response repeats them; absent for a request without tools (and records made before tools). */
  tools?: Record<string, unknown>[];
  tool_choice?: unknown;
}

/** The native tools in the Response's own shape (function tools, strict off: docs/compat.md). */
export function responseTools(t: { tools?: ToolDefinition[]; toolChoice?: ToolChoice }): Pick<ResponseRequest, 'tools' | 'tool_choice'> {
  if (!t.tools?.length) return {};
  const c = t.toolChoice;
  return { tools: t.tools.map((x) => ({ type: 'function', name: x.name, description: x.description ?? null, parameters: x.parameters, strict: false })), tool_choice: c === undefined ? 'auto' : typeof c === 'string' ? c : { type: 'function', name: c.name } };
}

export interface ResponseBase extends ResponseRequest {
  sessionId: string;
  createdAt: number;
  model: string;
}

type Kind = 'message' | 'reasoning' | 'function_call';
interface Item {
  kind: Kind;
  id: string;
  text: string;
  toolIndex?: number;
  callId?: string;
  name?: string;
  done: boolean;
}

export type ResponseStatus = 'queued' | 'in_progress' | 'completed' | 'failed' | 'incomplete' | 'cancelled';
export type StreamEvent = Record<string, unknown> & { type: string; sequence_number: number };

const INCOMPLETE: Record<string, string> = { length: 'max_output_tokens', content_filter: 'content_filter' };

/**
 * Native events → the Responses stream, as a pure function of the native sequence: every edge that replays
 * a session from its start numbers the same events the same way, so `starting_after=N` resumes anywhere.
 * The Response it reports (snapshot) is the one `GET /responses/{id}` returns.
 */
export class ResponsesEvents {
  private seq = -1;
  private items: Item[] = [];
  private content = false;
  private usage: Usage | undefined;
  status: ResponseStatus = 'in_progress';
  private error: { code: string; message: string } | null = null;
  private incomplete: { reason: string } | null = null;

  constructor(private readonly base: ResponseBase) {}

  private ev(type: string, fields: Record<string, unknown>): StreamEvent {
    return { type, sequence_number: ++this.seq, ...fields };
  }

  /** `response.created` and `response.in_progress`, before any native event. */
  start(): StreamEvent[] {
    return [this.ev('response.created', { response: this.snapshot() }), this.ev('response.in_progress', { response: this.snapshot() })];
  }

  event(n: NativeEvent): StreamEvent[] {
    const a = emptyAnswer();
    fold(a, n);
    if (n.type === 'gap') return this.end('failed', [], { code: 'stream_gap', message: a.error!.message });
    const data = JSON.parse(n.data) as NativeData;
    switch (n.type) {
      case 'delta': return this.content_('message', data.text);
      case 'thinking': return this.content_('reasoning', data.text);
      case 'tool_call': return this.toolCall(data);
      case 'usage': this.usage = a.usage; return [];
      case 'reset': {
        if (!this.content) return [];
        const out = this.closeCurrent();
        this.items = [];
        this.content = false;
        return [...out, this.ev('error', { code: RESTARTED.code, message: RESTARTED.message, param: null })];
      }
      case 'done': {
        if (a.usage) this.usage = a.usage;
        const reason = INCOMPLETE[a.finishReason ?? 'stop'];
        if (reason) this.incomplete = { reason };
        return this.end(reason ? 'incomplete' : 'completed', this.closeCurrent());
      }
      case 'error': return this.end('failed', this.closeCurrent(), a.error!);
      case 'cancelled': return this.end('cancelled', this.closeCurrent());
      default: return [];
    }
  }

  private end(status: ResponseStatus, out: StreamEvent[], error?: { code: string; message: string }): StreamEvent[] {
    this.status = status;
    if (error) this.error = error;
    return [...out, this.ev(`response.${status}`, { response: this.snapshot() })];
  }

  private current(): Item | undefined {
    const last = this.items.at(-1);
    return last && !last.done ? last : undefined;
  }

  private open(kind: Kind, extra: Partial<Item> = {}): StreamEvent[] {
    const out = this.closeCurrent();
    const prefix = kind === 'message' ? 'msg' : kind === 'reasoning' ? 'rs' : 'fc';
    const item: Item = { kind, id: `${prefix}_${this.base.sessionId}_${this.items.length}`, text: '', done: false, ...extra };
    this.items.push(item);
    const output_index = this.items.length - 1;
    out.push(this.ev('response.output_item.added', { output_index, item: this.itemJson(item) }));
    if (kind !== 'function_call') out.push(this.ev('response.content_part.added', { item_id: item.id, output_index, content_index: 0, part: this.part(item, '') }));
    return out;
  }

  private content_(kind: 'message' | 'reasoning', text: string): StreamEvent[] {
    this.content = true;
    const out = this.current()?.kind === kind ? [] : this.open(kind);
    const item = this.current()!;
    item.text += text;
    const type = kind === 'message' ? 'response.output_text.delta' : 'response.reasoning_text.delta';
    out.push(this.ev(type, { item_id: item.id, output_index: this.items.length - 1, content_index: 0, delta: text, ...(kind === 'message' ? { logprobs: [] } : {}) }));
    return out;
  }

  private toolCall(d: { index: number; id?: string; name?: string; arguments: string }): StreamEvent[] {
    this.content = true;
    const cur = this.current();
    const out = cur?.kind === 'function_call' && cur.toolIndex === d.index ? [] : this.open('function_call', { toolIndex: d.index, callId: d.id ?? `call_${d.index}`, name: d.name ?? '' });
    const item = this.current()!;
    if (d.name !== undefined && !item.name) item.name = d.name;
    item.text += d.arguments;
    if (d.arguments) out.push(this.ev('response.function_call_arguments.delta', { item_id: item.id, output_index: this.items.length - 1, delta: d.arguments }));
    return out;
  }

  private closeCurrent(): StreamEvent[] {
    const item = this.current();
    if (!item) return [];
    item.done = true;
    const output_index = this.items.length - 1;
    const at = { item_id: item.id, output_index };
    const out: StreamEvent[] = [];
    if (item.kind === 'function_call') out.push(this.ev('response.function_call_arguments.done', { ...at, name: item.name, arguments: item.text }));
    else {
      out.push(this.ev(item.kind === 'message' ? 'response.output_text.done' : 'response.reasoning_text.done', { ...at, content_index: 0, text: item.text, ...(item.kind === 'message' ? { logprobs: [] } : {}) }));
      out.push(this.ev('response.content_part.done', { ...at, content_index: 0, part: this.part(item, item.text) }));
    }
    out.push(this.ev('response.output_item.done', { output_index, item: this.itemJson(item) }));
    return out;
  }

  private part(item: Item, text: string): Record<string, unknown> {
    return item.kind === 'message' ? { type: 'output_text', text, annotations: [], logprobs: [] } : { type: 'reasoning_text', text };
  }

  private itemJson(item: Item): Record<string, unknown> {
    const status = item.done ? 'completed' : 'in_progress';
    if (item.kind === 'function_call') return { id: item.id, type: 'function_call', status, call_id: item.callId, name: item.name, arguments: item.done ? item.text : '' };
    if (item.kind === 'reasoning') return { id: item.id, type: 'reasoning', summary: [], content: item.done ? [this.part(item, item.text)] : [] };
    return { id: item.id, type: 'message', status, role: 'assistant', content: item.done ? [this.part(item, item.text)] : [] };
  }

  /** The Response as of the events seen (items still open are shown with their text so far). */
  snapshot(status: ResponseStatus = this.status): Record<string, unknown> {
    const b = this.base;
    const output = this.items.map((i) => (i.done ? this.itemJson(i) : this.itemJson({ ...i, done: true })));
    const u = this.usage;
    return {
      id: `resp_${b.sessionId}`,
      object: 'response',
      created_at: Math.floor(b.createdAt / 1000),
      status,
      background: b.background,
      error: this.error,
      incomplete_details: this.incomplete,
      instructions: b.instructions,
      max_output_tokens: b.max_output_tokens,
      metadata: b.metadata,
      model: b.model,
      output,
      parallel_tool_calls: true,
      previous_response_id: null,
      store: true,
      temperature: b.temperature,
      text: { format: { type: 'text' } },
      tool_choice: b.tool_choice ?? 'auto',
      tools: b.tools ?? [],
      top_p: null,
      truncation: 'disabled',
      usage: u ? { input_tokens: u.inputTokens, input_tokens_details: { cached_tokens: 0 }, output_tokens: u.outputTokens, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: u.inputTokens + u.outputTokens } : null,
    };
  }
}

