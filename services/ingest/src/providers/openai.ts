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
      this.text(out, 'delta', delta.content);
      // Tool calls stream as pieces: id and name with the first piece of each index, then argument text.
      if (Array.isArray(delta.tool_calls)) for (const t of delta.tool_calls) this.toolCall(out, num(t?.index) ?? 0, t?.id, t?.function?.name, t?.function?.arguments);
    }
    this.finishReason = finishReason(choice?.finish_reason, FINISH) ?? this.finishReason;
    const input = num(chunk.usage?.prompt_tokens);
    if (input !== undefined) this.reportUsage(out, input, num(chunk.usage.completion_tokens) ?? 0);
  }
}
