import type { GenerateJob, RelaycastEvent, Route } from '@relaycast/shared';
import { BaseDecoder, finishReason, inBandError, num, parseJson, type Provider, type UpstreamMessage } from './provider.js';
import { bearer, endpoint, jsonPost, params } from './request.js';

const FINISH: Record<string, string> = { stop: 'stop', length: 'length', tool_calls: 'tool_calls', function_call: 'tool_calls', content_filter: 'content_filter' };

/**
 * OpenAI Chat Completions streaming (platform.openai.com/docs/api-reference/chat-streaming): `data: {chunk}`
 * events ending with `data: [DONE]`. Usage comes only when asked for, in an extra chunk with empty `choices`.
 */
export const openai: Provider = {
  format: 'sse',
  request(route: Route, job: GenerateJob, apiKey) {
    const body = { model: route.model, messages: job.messages, stream: true, stream_options: { include_usage: true }, ...params(route, job) };
    return jsonPost(route, job, endpoint(route, 'v1/chat/completions'), body, bearer(apiKey));
  },
  decoder: (job) => new OpenAIChatDecoder(job),
};

class OpenAIChatDecoder extends BaseDecoder {
  /** `i<index>` or `id:<id>` of a provider's tool call -> Relaycast's index (the order calls appeared in). */
  private readonly calls = new Map<string, number>();
  private lastCall: number | undefined;
  private count = 0;

  protected decode(m: UpstreamMessage, out: RelaycastEvent[]): void {
    if (m.data === '[DONE]') {
      this.ended = true;
      return;
    }
    const chunk = parseJson(m.data);
    // An error after HTTP 200 arrives in-band as `data: {"error": ...}`.
    if (chunk.error) throw inBandError(chunk.error.type ?? chunk.error.code, chunk.error.message);
    const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
    const delta = choice?.delta;
    if (delta) {
      // DeepSeek and older vLLM stream reasoning as `reasoning_content`, newer vLLM and others as `reasoning`.
      this.text(out, 'thinking', typeof delta.reasoning_content === 'string' && delta.reasoning_content ? delta.reasoning_content : delta.reasoning);
      this.text(out, 'delta', delta.content);
      // Tool calls stream as pieces: id and name with the first piece of each index, then argument text.
      if (Array.isArray(delta.tool_calls)) for (const t of delta.tool_calls) this.toolCall(out, this.callIndex(t), t?.id, t?.function?.name, t?.function?.arguments);
    }
    this.finishReason = finishReason(choice?.finish_reason, FINISH) ?? this.finishReason;
    const input = num(chunk.usage?.prompt_tokens);
    if (input !== undefined) this.reportUsage(out, input, num(chunk.usage.completion_tokens) ?? 0);
  }

  /**
   * Which call a piece belongs to: by `index` when it has one; Mistral and some local servers send whole
   * calls without `index`, so by `id` then (two such calls in one chunk stay two); a piece with neither
   * continues the last call.
   */
  private callIndex(t: any): number {
    const index = num(t?.index);
    const id = typeof t?.id === 'string' && t.id !== '' ? `id:${t.id}` : undefined;
    const key = index !== undefined ? `i${index}` : id;
    if (key === undefined) return (this.lastCall ??= this.next());
    let n = this.calls.get(key) ?? (id !== undefined ? this.calls.get(id) : undefined);
    if (n === undefined) n = this.next();
    this.calls.set(key, n);
    if (id !== undefined) this.calls.set(id, n);
    return (this.lastCall = n);
  }

  private next(): number {
    return this.count++;
  }
}
