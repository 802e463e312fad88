import type { GenerateJob, RelaycastEvent, Route } from '@relaycast/shared';
import { UpstreamError } from '../errors.js';
import { BaseDecoder, inBandError, num, parseJson, type Provider, type UpstreamMessage } from './provider.js';
import { bearer, endpoint, jsonPost, params } from './request.js';

/**
 * OpenAI Responses API streaming (platform.openai.com/docs/api-reference/responses-streaming): named events,
 * each with a `sequence_number`, ending with `response.completed`, `response.incomplete` or
 * `response.failed`; an `error` event reports a failure. There is no `[DONE]`.
 */
export const openaiResponses: Provider = {
  format: 'sse',
  request(route: Route, job: GenerateJob, apiKey) {
    const p = params(route, job);
    const body = { model: route.model, input: job.messages, stream: true, max_output_tokens: p.max_tokens, temperature: p.temperature, top_p: p.top_p };
    return jsonPost(route, job, endpoint(route, 'v1/responses'), body, bearer(apiKey));
  },
  decoder: (job) => new ResponsesDecoder(job),
};

const INCOMPLETE: Record<string, string> = { max_output_tokens: 'length', content_filter: 'content_filter' };

class ResponsesDecoder extends BaseDecoder {
  private lastSeq = -1;
  /** Output item id -> tool call index (the order function calls appeared in). */
  private readonly tools = new Map<string, number>();

  protected decode(m: UpstreamMessage, out: RelaycastEvent[]): void {
    const ev = parseJson(m.data);
    // sequence_number orders the events of one response; one we already had is a duplicate.
    const seq = num(ev.sequence_number);
    if (seq !== undefined) {
      if (seq <= this.lastSeq) return;
      this.lastSeq = seq;
    }
    switch (ev.type ?? m.event) {
      case 'response.output_text.delta':
      case 'response.refusal.delta':
        return this.text(out, 'delta', ev.delta);
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta':
        return this.text(out, 'thinking', ev.delta);
      case 'response.output_item.added':
        if (ev.item?.type === 'function_call') {
          const index = this.tools.size;
          this.tools.set(String(ev.item.id), index);
          this.toolCall(out, index, ev.item.call_id, ev.item.name, ev.item.arguments);
        }
        return;
      case 'response.function_call_arguments.delta': {
        const index = this.tools.get(String(ev.item_id));
        if (index === undefined) throw new UpstreamError('upstream_protocol', 'function call arguments for an item that was never added');
        return this.toolCall(out, index, undefined, undefined, ev.delta);
      }
      case 'response.completed':
        return this.complete(out, ev.response, this.tools.size > 0 ? 'tool_calls' : 'stop');
      case 'response.incomplete': {
        const reason = ev.response?.incomplete_details?.reason;
        return this.complete(out, ev.response, typeof reason === 'string' ? (INCOMPLETE[reason] ?? reason) : 'length');
      }
      case 'response.failed':
        throw inBandError(ev.response?.error?.code, ev.response?.error?.message ?? 'response failed');
      case 'error':
        throw inBandError(ev.code ?? ev.error?.code ?? ev.error?.type, ev.message ?? ev.error?.message);
      default:
        // response.created, in_progress, content_part.*, *.done and event types added later.
        return;
    }
  }

  private complete(out: RelaycastEvent[], response: any, reason: string): void {
    const input = num(response?.usage?.input_tokens);
    const output = num(response?.usage?.output_tokens);
    if (input !== undefined && output !== undefined) this.reportUsage(out, input, output);
    this.finishReason = reason;
    this.ended = true;
  }
}
