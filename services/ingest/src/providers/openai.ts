import type { EventOf, GenerateJob, RelaycastEvent, Route, Usage } from '@relaycast/shared';
import { UpstreamError } from '../errors.js';
import type { Provider, StreamDecoder, UpstreamMessage } from './provider.js';
import { estimateTokens } from './estimate.js';

interface ChatChunk {
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string; type?: string; code?: string | number | null };
}

/** OpenAI Chat Completions streaming: `data: {chunk}` lines ending with `data: [DONE]`. */
export const openai: Provider = {
  format: 'sse',
  request(route: Route, job: GenerateJob, apiKey) {
    const body = {
      model: route.model,
      messages: job.messages,
      stream: true,
      // Usage is only reported when asked for, in an extra chunk with empty `choices`.
      stream_options: { include_usage: true },
      ...route.defaults,
      ...definedOnly(job.params),
      ...(route.allowMock && job.mock ? { mock: job.mock } : {}),
    };
    return {
      url: new URL('v1/chat/completions', withSlash(route.baseUrl)).toString(),
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify(body),
    };
  },
  decoder(job) {
    return new OpenAIDecoder(job);
  },
};

class OpenAIDecoder implements StreamDecoder {
  private finishReason: string | undefined;
  private usage: Usage | undefined;
  private ended = false;
  private outputText = '';

  constructor(private readonly job: GenerateJob) {}

  message(m: UpstreamMessage): RelaycastEvent[] {
    if (this.ended) return [];
    if (m.data === '[DONE]') {
      this.ended = true;
      return [];
    }
    let chunk: ChatChunk;
    try {
      chunk = JSON.parse(m.data) as ChatChunk;
    } catch {
      throw new UpstreamError('upstream_protocol', 'upstream sent a frame that is not valid JSON');
    }
    // An error after HTTP 200 arrives in-band as `data: {"error": ...}`.
    if (chunk.error) throw new UpstreamError('upstream_error', chunk.error.message ?? 'upstream reported an error', false);
    const out: RelaycastEvent[] = [];
    const choice = chunk.choices?.[0];
    const text = choice?.delta?.content;
    if (typeof text === 'string' && text.length > 0) {
      this.outputText += text;
      out.push({ type: 'delta', text });
    }
    if (choice?.finish_reason) this.finishReason = choice.finish_reason;
    if (chunk.usage && typeof chunk.usage.prompt_tokens === 'number') {
      this.usage = { inputTokens: chunk.usage.prompt_tokens, outputTokens: chunk.usage.completion_tokens ?? 0, estimated: false };
      out.push({ type: 'usage', ...this.usage });
    }
    return out;
  }

  end(): EventOf<'done'> {
    if (!this.ended) throw new UpstreamError('upstream_truncated', 'upstream closed the stream without its end marker');
    const usage = this.usage ?? estimateTokens(this.job, this.outputText);
    return { type: 'done', finishReason: this.finishReason ?? 'stop', usage };
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function withSlash(u: string): string {
  return u.endsWith('/') ? u : `${u}/`;
}
