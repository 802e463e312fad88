import type { RelaycastEvent } from '@relaycast/protocol';
import type { GenerateJob, Route } from '@relaycast/shared';
import { BaseDecoder, finishReason, inBandError, num, parseJson, type Provider, type UpstreamMessage } from './provider.js';
import { endpoint, jsonPost, params } from './request.js';
import { anthropicTools } from './tools.js';

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
      ...anthropicTools(job),
      system: system || undefined,
      stream: true,
      temperature: p.temperature,
      top_p: p.top_p,
      stop_sequences: p.stop,
    };
    return jsonPost(route, job, endpoint(route, 'v1/messages'), body, { 'anthropic-version': API_VERSION, ...(apiKey ? { 'x-api-key': apiKey } : {}) });
  },
  decoder: (job) => new AnthropicDecoder(job),
};

interface ToolBlock {
  index: number;
  /** `content_block_start`'s `input`: the whole input when no `input_json_delta` brings any. */
  input: unknown;
  sentArgs: boolean;
}

class AnthropicDecoder extends BaseDecoder {
  /** Usage fields as last reported: `message_start`, then revised (cumulatively) by `message_delta`. */
  private readonly counts: Record<'input_tokens' | 'cache_creation_input_tokens' | 'cache_read_input_tokens' | 'output_tokens', number | undefined> = {
    input_tokens: undefined,
    cache_creation_input_tokens: undefined,
    cache_read_input_tokens: undefined,
    output_tokens: undefined,
  };
  /** Content block index -> its tool call (the order tool_use blocks appeared in). */
  private readonly tools = new Map<number, ToolBlock>();

  decode(m: UpstreamMessage, out: RelaycastEvent[]): void {
    const ev = parseJson(m.data);
    switch (ev.type ?? m.event) {
      case 'message_start':
        return this.reviseUsage(ev.message?.usage);
      case 'content_block_start':
        return this.blockStart(out, num(ev.index) ?? -1, ev.content_block);
      case 'content_block_delta':
        return this.blockDelta(out, num(ev.index) ?? -1, ev.delta);
      case 'content_block_stop':
        return this.toolInputFallback(out, num(ev.index) ?? -1);
      case 'message_delta':
        this.finishReason = finishReason(ev.delta?.stop_reason, FINISH) ?? this.finishReason;
        // message_delta's usage is cumulative, and may revise input and cache counts too.
        return this.reviseUsage(ev.usage);
      case 'message_stop': {
        for (const i of this.tools.keys()) this.toolInputFallback(out, i);
        const u = this.counts;
        // Cached prompt tokens are input too, reported apart.
        if (u.input_tokens !== undefined && u.output_tokens !== undefined) this.reportUsage(out, u.input_tokens + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0), u.output_tokens);
        this.ended = true;
        return;
      }
      case 'error':
        throw inBandError(ev.error?.type, ev.error?.message);
      default:
        // ping, and event types added later.
        return;
    }
  }

  private reviseUsage(u: any): void {
    for (const k of Object.keys(this.counts) as (keyof typeof this.counts)[]) this.counts[k] = num(u?.[k]) ?? this.counts[k];
  }

  private blockStart(out: RelaycastEvent[], index: number, b: any): void {
    if (b?.type === 'text') this.text(out, 'delta', b.text);
    else if (b?.type === 'thinking') this.thinkingPart(out, String(index), b.thinking);
    else if (b?.type === 'tool_use') {
      const tool = { index: this.tools.size, input: b.input, sentArgs: false };
      this.tools.set(index, tool);
      this.toolCall(out, tool.index, b.id, b.name, '');
    }
  }

  private blockDelta(out: RelaycastEvent[], index: number, d: any): void {
    if (d?.type === 'text_delta') this.text(out, 'delta', d.text);
    else if (d?.type === 'thinking_delta') this.thinkingPart(out, String(index), d.thinking);
    else if (d?.type === 'input_json_delta') {
      const tool = this.tools.get(index);
      if (!tool || typeof d.partial_json !== 'string' || !d.partial_json) return;
      tool.sentArgs = true;
      this.toolCall(out, tool.index, undefined, undefined, d.partial_json);
    }
    // signature_delta (verifies thinking) and citations_delta carry no text.
  }

  /**
   * A tool with no arguments streams only `partial_json: ""`: its input is then `content_block_start`'s
   * `input` (`{}`), so the reassembled arguments always parse as JSON.
   */
  private toolInputFallback(out: RelaycastEvent[], index: number): void {
    const tool = this.tools.get(index);
    if (!tool || tool.sentArgs) return;
    tool.sentArgs = true;
    const input = tool.input && typeof tool.input === 'object' && !Array.isArray(tool.input) ? tool.input : {};
    this.toolCall(out, tool.index, undefined, undefined, JSON.stringify(input));
  }
}
