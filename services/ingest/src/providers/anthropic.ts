import type { GenerateJob, RelaycastEvent, Route } from '@relaycast/shared';
import { BaseDecoder, finishReason, inBandError, num, parseJson, type Provider, type UpstreamMessage } from './provider.js';
import { endpoint, jsonPost, params } from './request.js';

/** Anthropic requires max_tokens; used when neither the request nor the route sets it. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4_096;
const API_VERSION = '2023-06-01';

const FINISH: Record<string, string> = { end_turn: 'stop', stop_sequence: 'stop', max_tokens: 'length', tool_use: 'tool_calls', refusal: 'content_filter', model_context_window_exceeded: 'length' };

/**
 * Anthropic Messages streaming (docs.anthropic.com/en/docs/build-with-claude/streaming): `message_start`,
 * `content_block_start|delta|stop` (text, thinking, tool input), `message_delta` (stop reason, usage),
 * `message_stop`; `ping` anywhere; `error` mid-stream (for example `overloaded_error`). Unknown event types
 * are ignored, as the documentation asks.
 */
export const anthropic: Provider = {
  format: 'sse',
  request(route: Route, job: GenerateJob, apiKey) {
    const p = params(route, job);
    const system = job.messages.filter((m) => m.role === 'system').map((m) => m.content).join('\n\n');
    const body = {
      model: route.model,
      max_tokens: p.max_tokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
      messages: job.messages.filter((m) => m.role !== 'system'),
      system: system || undefined,
      stream: true,
      temperature: p.temperature,
      top_p: p.top_p,
    };
    return jsonPost(route, job, endpoint(route, 'v1/messages'), body, { 'anthropic-version': API_VERSION, ...(apiKey ? { 'x-api-key': apiKey } : {}) });
  },
  decoder: (job) => new AnthropicDecoder(job),
};

class AnthropicDecoder extends BaseDecoder {
  private inputTokens: number | undefined;
  private outputTokens: number | undefined;
  /** Content block index -> tool call index (the order tool_use blocks appeared in). */
  private readonly tools = new Map<number, number>();

  protected decode(m: UpstreamMessage, out: RelaycastEvent[]): void {
    const ev = parseJson(m.data);
    switch (ev.type ?? m.event) {
      case 'message_start': {
        const u = ev.message?.usage;
        const input = num(u?.input_tokens);
        // Cached prompt tokens are input too, reported apart.
        if (input !== undefined) this.inputTokens = input + (num(u.cache_creation_input_tokens) ?? 0) + (num(u.cache_read_input_tokens) ?? 0);
        this.outputTokens = num(u?.output_tokens);
        return;
      }
      case 'content_block_start': {
        const b = ev.content_block;
        if (b?.type === 'text') this.text(out, 'delta', b.text);
        else if (b?.type === 'thinking') this.text(out, 'thinking', b.thinking);
        else if (b?.type === 'tool_use') {
          const index = this.tools.size;
          this.tools.set(num(ev.index) ?? -1, index);
          this.toolCall(out, index, b.id, b.name, '');
        }
        return;
      }
      case 'content_block_delta': {
        const d = ev.delta;
        if (d?.type === 'text_delta') this.text(out, 'delta', d.text);
        else if (d?.type === 'thinking_delta') this.text(out, 'thinking', d.thinking);
        else if (d?.type === 'input_json_delta') {
          const index = this.tools.get(num(ev.index) ?? -1);
          if (index !== undefined) this.toolCall(out, index, undefined, undefined, d.partial_json);
        }
        // signature_delta (verifies thinking) and citations_delta carry no text.
        return;
      }
      case 'message_delta':
        this.finishReason = finishReason(ev.delta?.stop_reason, FINISH) ?? this.finishReason;
        // message_delta's usage is cumulative.
        this.outputTokens = num(ev.usage?.output_tokens) ?? this.outputTokens;
        return;
      case 'message_stop':
        if (this.inputTokens !== undefined && this.outputTokens !== undefined) this.reportUsage(out, this.inputTokens, this.outputTokens);
        this.ended = true;
        return;
      case 'error':
        throw inBandError(ev.error?.type, ev.error?.message);
      default:
        // ping, content_block_stop, and event types added later.
        return;
    }
  }
}
