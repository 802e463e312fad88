import type { RelaycastEvent } from '@relaycast/protocol';
import type { GenerateJob, Route } from '@relaycast/shared';
import { UpstreamError } from '../errors.js';
import { BaseDecoder, inBandError, num, parseJson, type Provider, type UpstreamMessage } from './provider.js';
import { bearer, endpoint, jsonPost, params } from './request.js';
import { responsesTools } from './tools.js';

/**
 * OpenAI Responses API streaming (platform.openai.com/docs/api-reference/responses-streaming): named events,
 * each with a `sequence_number`, ending with `response.completed`, `response.incomplete` or
 * `response.failed`; an `error` event reports a failure. There is no `[DONE]`.
 */
export const openaiResponses: Provider = {
  format: 'sse',
  request(route: Route, job: GenerateJob, apiKey) {
    const p = params(route, job);
    // The Responses API has no stop field: the session's stop processor alone ends the answer at one.
    const body = { model: route.model, ...responsesTools(job), stream: true, max_output_tokens: p.max_tokens, temperature: p.temperature, top_p: p.top_p };
    return jsonPost(route, job, endpoint(route, 'v1/responses'), body, bearer(apiKey));
  },
  decoder: (job) => new ResponsesDecoder(job),
};

const INCOMPLETE: Record<string, string> = { max_output_tokens: 'length', content_filter: 'content_filter' };

/** FNV-1a over UTF-16 code units, continued from `h`: hashing a + b equals hashing b after a. */
function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
const NOTHING = { length: 0, hash: 0x811c9dc5 };

/** What a part's text is: answer, reasoning, or the arguments of tool call `call`. */
type Kind = 'delta' | 'thinking' | { call: number };

class ResponsesDecoder extends BaseDecoder {
  private lastSeq = -1;
  /** Output item id -> its key (see keyOf). */
  private readonly aliases = new Map<string, string>();
  /** Output item key -> tool call index (the order function calls appeared in). */
  private readonly tools = new Map<string, number>();
  /**
   * Per part (`<item key>/<t|f|s|r|a><index>`): length and hash of the text streamed so far, enough to tell
   * whether its `.done` text continues it, in constant memory per part.
   */
  private readonly streamed = new Map<string, { length: number; hash: number }>();

  decode(m: UpstreamMessage, out: RelaycastEvent[]): void {
    const ev = parseJson(m.data);
    // sequence_number orders the events of one response; one we already had is a duplicate.
    const seq = num(ev.sequence_number);
    if (seq !== undefined) {
      if (seq <= this.lastSeq) return;
      this.lastSeq = seq;
    }
    const item = this.keyOf(ev.item_id ?? ev.item?.id, ev.output_index);
    switch (ev.type ?? m.event) {
      case 'response.output_text.delta':
        return this.piece(out, `${item}/t${num(ev.content_index) ?? 0}`, 'delta', ev.delta);
      case 'response.refusal.delta':
        return this.piece(out, `${item}/f${num(ev.content_index) ?? 0}`, 'delta', ev.delta);
      case 'response.reasoning_summary_text.delta':
        return this.piece(out, `${item}/s${num(ev.summary_index) ?? 0}`, 'thinking', ev.delta);
      case 'response.reasoning_text.delta':
        return this.piece(out, `${item}/r${num(ev.content_index) ?? 0}`, 'thinking', ev.delta);
      // Some Responses-compatible servers send text only in the `.done` events.
      case 'response.output_text.done':
        return this.partDone(out, `${item}/t${num(ev.content_index) ?? 0}`, 'delta', ev.text);
      case 'response.refusal.done':
        return this.partDone(out, `${item}/f${num(ev.content_index) ?? 0}`, 'delta', ev.refusal);
      case 'response.reasoning_summary_text.done':
        return this.partDone(out, `${item}/s${num(ev.summary_index) ?? 0}`, 'thinking', ev.text);
      case 'response.reasoning_text.done':
        return this.partDone(out, `${item}/r${num(ev.content_index) ?? 0}`, 'thinking', ev.text);
      case 'response.output_item.added':
        if (ev.item?.type === 'function_call') this.addCall(out, ev.item, ev.output_index);
        return;
      case 'response.function_call_arguments.delta':
        return this.piece(out, `${item}/a`, { call: this.callOf(item) }, ev.delta);
      case 'response.function_call_arguments.done':
        return this.partDone(out, `${item}/a`, { call: this.callOf(item) }, ev.arguments);
      case 'response.output_item.done':
        return this.itemDone(out, ev.item, ev.output_index);
      case 'response.completed':
        return this.complete(out, ev.response, undefined);
      case 'response.incomplete': {
        const reason = ev.response?.incomplete_details?.reason;
        return this.complete(out, ev.response, typeof reason === 'string' ? (INCOMPLETE[reason] ?? reason) : 'length');
      }
      case 'response.failed':
        throw inBandError(ev.response?.error?.code, ev.response?.error?.message ?? 'response failed');
      case 'error':
        // OpenAI nests it (`error: {type, code, message, param}`); the API reference shows it flat.
        throw inBandError(ev.code ?? ev.error?.code ?? ev.error?.type, ev.message ?? ev.error?.message);
      default:
        // response.created, in_progress, content_part.*, and event types added later.
        return;
    }
  }

  private piece(out: RelaycastEvent[], key: string, kind: Kind, text: unknown): void {
    if (typeof text !== 'string' || text.length === 0) return;
    const got = this.streamed.get(key) ?? NOTHING;
    this.streamed.set(key, { length: got.length + text.length, hash: fnv(got.hash, text) });
    if (kind === 'thinking') this.thinkingPart(out, key, text);
    else if (kind === 'delta') this.text(out, 'delta', text);
    else this.toolCall(out, kind.call, undefined, undefined, text);
  }

  /** A part's whole text: what the deltas did not bring is sent now (all of it, when there were none). */
  private partDone(out: RelaycastEvent[], key: string, kind: Kind, full: unknown): void {
    if (typeof full !== 'string') return;
    const got = this.streamed.get(key) ?? NOTHING;
    // Text that does not continue what was streamed cannot replace it: the deltas stand.
    if (full.length > got.length && fnv(NOTHING.hash, full.slice(0, got.length)) === got.hash) this.piece(out, key, kind, full.slice(got.length));
  }

  /**
   * One key per output item, whichever of `item_id` and `output_index` an event carries (compatible servers
   * omit one or the other): an id seen with an index is known by that index from then on, so the final
   * response's items (whose positions may differ) are matched by id.
   */
  private keyOf(itemId: unknown, outputIndex: unknown): string {
    const id = typeof itemId === 'string' && itemId ? itemId : undefined;
    const known = id !== undefined ? this.aliases.get(id) : undefined;
    if (known) return known;
    const index = num(outputIndex);
    const key = index !== undefined ? `o${index}` : `i${id}`;
    if (id !== undefined && index !== undefined) this.aliases.set(id, key);
    return key;
  }

  private callOf(item: string): number {
    const index = this.tools.get(item);
    if (index === undefined) throw new UpstreamError('upstream_protocol', 'function call arguments for an item that was never added');
    return index;
  }

  private addCall(out: RelaycastEvent[], item: any, outputIndex: unknown): number {
    const id = this.keyOf(item.id, outputIndex);
    const index = this.tools.size;
    this.tools.set(id, index);
    this.toolCall(out, index, item.call_id, item.name, '');
    this.piece(out, `${id}/a`, { call: index }, item.arguments);
    return index;
  }

  /** A finished output item (or one in the final response): whatever of it was not streamed yet. */
  private itemDone(out: RelaycastEvent[], item: any, outputIndex: unknown): void {
    if (!item || typeof item !== 'object') return;
    const id = this.keyOf(item.id, outputIndex);
    const list = (v: unknown): any[] => (Array.isArray(v) ? v : []);
    if (item.type === 'function_call') {
      const call = this.tools.get(id) ?? this.addCall(out, item, outputIndex);
      this.partDone(out, `${id}/a`, { call }, item.arguments);
    } else if (item.type === 'message') {
      list(item.content).forEach((c, i) => {
        if (c?.type === 'refusal') this.partDone(out, `${id}/f${i}`, 'delta', c.refusal);
        else if (c?.type === 'output_text') this.partDone(out, `${id}/t${i}`, 'delta', c.text);
      });
    } else if (item.type === 'reasoning') {
      list(item.summary).forEach((p, i) => {
        this.partDone(out, `${id}/s${i}`, 'thinking', p?.text);
      });
      list(item.content).forEach((p, i) => {
        this.partDone(out, `${id}/r${i}`, 'thinking', p?.text);
      });
    }
  }

  private complete(out: RelaycastEvent[], response: any, reason: string | undefined): void {
    if (Array.isArray(response?.output)) {
      response.output.forEach((item: unknown, i: number) => {
        this.itemDone(out, item, i);
      });
    }
    const input = num(response?.usage?.input_tokens);
    const output = num(response?.usage?.output_tokens);
    if (input !== undefined && output !== undefined) this.reportUsage(out, input, output);
    this.finishReason = reason ?? (this.tools.size > 0 ? 'tool_calls' : 'stop');
    this.ended = true;
  }
}
