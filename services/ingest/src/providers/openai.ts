import type { RelaycastEvent } from '@relaycast/protocol';
import type { GenerateJob, Route } from '@relaycast/shared';
import { BaseDecoder, finishReason, inBandError, num, parseJson, type Provider, type UpstreamMessage } from './provider.js';
import { bearer, endpoint, jsonPost, params } from './request.js';
import { openaiChatTools } from './tools.js';

const FINISH: Record<string, string> = { stop: 'stop', length: 'length', tool_calls: 'tool_calls', function_call: 'tool_calls', content_filter: 'content_filter' };

/**
 * OpenAI Chat Completions streaming (platform.openai.com/docs/api-reference/chat-streaming): `data: {chunk}`
 * events ending with `data: [DONE]`. Usage comes only when asked for, in an extra chunk with empty `choices`.
 */
export const openai: Provider = {
  format: 'sse',
  request(route: Route, job: GenerateJob, apiKey) {
    // `stop` is Chat Completions' own field (up to 4, as the edge allows), sent as the request gave it.
    const body = { model: route.model, ...openaiChatTools(job), stream: true, stream_options: { include_usage: true }, ...params(route, job) };
    return jsonPost(route, job, endpoint(route, 'v1/chat/completions'), body, bearer(apiKey));
  },
  decoder: (job) => new OpenAIChatDecoder(job),
};

class OpenAIChatDecoder extends BaseDecoder {
  /** A provider's tool call (by its id, by its index) -> Relaycast's index (the order calls appeared in). */
  private readonly byId = new Map<string, number>();
  private readonly byIndex = new Map<number, number>();
  private readonly idOf = new Map<number, string>();
  private lastCall: number | undefined;
  private count = 0;

  decode(m: UpstreamMessage, out: RelaycastEvent[]): void {
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
      // The answer's text, as a Relaycast `delta` (empty pieces say nothing).
      if (typeof delta.content === 'string' && delta.content.length > 0) out.push({ type: 'delta', text: delta.content });
      // Tool calls stream as pieces: id and name with the first piece of each index, then argument text.
      if (Array.isArray(delta.tool_calls)) for (const t of delta.tool_calls) this.toolCall(out, this.callIndex(t), t?.id, t?.function?.name, t?.function?.arguments);
    }
    this.finishReason = finishReason(choice?.finish_reason, FINISH) ?? this.finishReason;
    const input = num(chunk.usage?.prompt_tokens);
    if (input !== undefined) this.reportUsage(out, input, num(chunk.usage.completion_tokens) ?? 0);
  }

  /**
   * Which call a piece belongs to: a known `id` is that call; else by `index`, unless the piece brings a new
   * id to an index whose call already has one (servers that number every call 0); Mistral and some local
   * servers send whole calls without `index`, so a new id is a new call; a piece with neither continues
   * the last call.
   */
  private callIndex(t: any): number {
    const index = num(t?.index);
    const id = typeof t?.id === 'string' && t.id !== '' ? t.id : undefined;
    let n = id !== undefined ? this.byId.get(id) : undefined;
    if (n === undefined && index !== undefined) {
      n = this.byIndex.get(index);
      if (n !== undefined && id !== undefined && this.idOf.has(n)) n = undefined;
    }
    if (n === undefined && index === undefined && id === undefined) n = this.lastCall;
    n ??= this.next();
    if (index !== undefined) this.byIndex.set(index, n);
    if (id !== undefined && !this.idOf.has(n)) {
      this.byId.set(id, n);
      this.idOf.set(n, id);
    }
    return (this.lastCall = n);
  }

  private next(): number {
    return this.count++;
  }
}
