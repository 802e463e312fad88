import type { RelaycastEvent } from '@relaycast/protocol';
import type { GenerateJob, Route } from '@relaycast/shared';
import { BaseDecoder, finishReason, inBandError, num, parseJson, type Provider, type UpstreamMessage } from './provider.js';
import { bearer, definedOnly, endpoint, jsonPost, params } from './request.js';
import { ollamaTools } from './tools.js';

const FINISH: Record<string, string> = { stop: 'stop', length: 'length' };

/**
 * Ollama `/api/chat` streaming (github.com/ollama/ollama/blob/main/docs/api.md): one JSON object per line;
 * the last has `done: true`, `done_reason` and the counts `prompt_eval_count` / `eval_count`; a failure is
 * an `{"error": "..."}` line.
 */
export const ollama: Provider = {
  format: 'ndjson',
  request(route: Route, job: GenerateJob, apiKey) {
    const p = params(route, job);
    const options = definedOnly({ temperature: p.temperature, top_p: p.top_p, num_predict: p.max_tokens, seed: p.seed, stop: p.stop });
    const body = { model: route.model, ...ollamaTools(job), stream: true, ...(Object.keys(options).length ? { options } : {}) };
    return jsonPost(route, job, endpoint(route, 'api/chat'), body, bearer(apiKey), 'application/x-ndjson');
  },
  decoder: (job) => new OllamaDecoder(job),
};

class OllamaDecoder extends BaseDecoder {
  private tools = 0;

  decode(m: UpstreamMessage, out: RelaycastEvent[]): void {
    const line = parseJson(m.data);
    if (line.error) throw inBandError(undefined, typeof line.error === 'string' ? line.error : line.error.message);
    const msg = line.message;
    if (msg) {
      this.text(out, 'thinking', msg.thinking);
      this.text(out, 'delta', msg.content);
      // Ollama sends each tool call whole, its arguments as an object.
      if (Array.isArray(msg.tool_calls)) for (const t of msg.tool_calls) this.toolCall(out, this.tools++, t?.id, t?.function?.name, JSON.stringify(t?.function?.arguments ?? {}));
    }
    if (line.done === true) {
      // Ollama ends a turn that called tools with done_reason `stop`; the calls are why it stopped.
      const reason = finishReason(line.done_reason, FINISH) ?? 'stop';
      this.finishReason = reason === 'stop' && this.tools > 0 ? 'tool_calls' : reason;
      const input = num(line.prompt_eval_count);
      const output = num(line.eval_count);
      // A cached prompt is reported without prompt_eval_count: the output count is real, the input estimated.
      if (output !== undefined) this.reportUsage(out, input ?? this.estimatedInputTokens(), output, input === undefined);
      this.ended = true;
    }
  }
}
