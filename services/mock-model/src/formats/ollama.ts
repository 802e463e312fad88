import { readStops } from '../stop.js';
import { ollamaTools } from '../tools.js';
import { controls, intOr, type WireFormat } from '../wire.js';

const line = (o: unknown) => `${JSON.stringify(o)}\n`;

/** `POST /api/chat`, streaming NDJSON as Ollama does (streaming is Ollama's default). */
export const ollama: WireFormat = {
  path: '/api/chat',
  contentType: 'application/x-ndjson',
  parse(b) {
    if (!Array.isArray(b.messages)) return 'messages is required';
    if (b.stream === false) return 'this mock only streams: leave stream unset or true';
    const mock = controls(b);
    const tools = ollamaTools(b);
    if (typeof tools === 'string') return tools;
    const stop = readStops(b.options?.stop, 'options.stop');
    if (typeof stop === 'string') return stop;
    return { messages: b.messages, maxTokens: intOr(b.options?.num_predict), seed: intOr(b.options?.seed, intOr(mock.seed, 0))!, model: String(b.model ?? 'mock'), includeUsage: true, stop, mock, ...tools };
  },
  httpError: (_status, message) => ({ error: message }),
  writer(r, plan) {
    const at = () => new Date().toISOString();
    const msg = (message: object) => line({ model: r.model, created_at: at(), message: { role: 'assistant', content: '', ...message }, done: false });
    let part = 0;
    return {
      preamble: () => '',
      step(s) {
        if (s.kind === 'text') return msg({ content: s.text });
        if (s.kind === 'reasoning') {
          // One `thinking` field: the model's own blank line separates its parts.
          const sep = s.part !== part && s.part > 0 ? '\n\n' : '';
          part = s.part;
          return msg({ thinking: sep + s.text });
        }
        // Ollama sends every call of a turn whole, in one line, its arguments as an object.
        if (s.call !== 0 || s.piece !== 0) return '';
        return msg({ tool_calls: plan.calls.map((c) => ({ function: { name: c.name, arguments: JSON.parse(c.arguments) as unknown } })) });
      },
      malformed: () => `{"model":${JSON.stringify(r.model)},"message":{"content":\n`,
      inbandError: () => line({ error: 'mock in-band error' }),
      // Ollama names a stop sequence's end `stop`, as it does the natural end.
      finish: (limited, u, stopSequence) =>
        line({ model: r.model, created_at: at(), message: { role: 'assistant', content: '' }, done: true, done_reason: limited && stopSequence === undefined ? 'length' : 'stop', total_duration: 1_000_000, load_duration: 1_000, prompt_eval_count: u.promptTokens, prompt_eval_duration: 1_000, eval_count: u.completionTokens, eval_duration: 1_000 }),
    };
  },
};
