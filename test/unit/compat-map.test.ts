import { describe, expect, it } from 'vitest';
import { eventData, type RelaycastEvent } from '@relaycast/protocol';
import { ChatChunks } from '../../services/edge/src/compat/chat.js';
import { ResponsesEvents, type StreamEvent } from '../../services/edge/src/compat/responses-map.js';
import type { NativeEvent } from '../../services/edge/src/compat/stream.js';
import { UiChunks } from '../../services/edge/src/compat/ui-map.js';

/** The protocol mappers alone: pure functions of the native sequence (what makes resume exact anywhere). */

const native = (events: RelaycastEvent[]): NativeEvent[] => events.map((e, i) => ({ seq: i + 1, type: e.type, data: eventData(e) }));
const base = { sessionId: 'S', createdAt: 1_700_000_000_000, model: 'mock', background: true, instructions: null, max_output_tokens: null, temperature: null, metadata: {} };
const responses = (events: NativeEvent[]): StreamEvent[] => {
  const r = new ResponsesEvents(base);
  return [...r.start(), ...events.flatMap((e) => r.event(e))];
};

const answer: RelaycastEvent[] = [
  { type: 'thinking', text: 'hmm' },
  { type: 'delta', text: 'Hel' },
  { type: 'delta', text: 'lo' },
  { type: 'tool_call', index: 0, id: 'c1', name: 'f', arguments: '{"a"' },
  { type: 'tool_call', index: 0, arguments: ':1}' },
  { type: 'usage', inputTokens: 3, outputTokens: 4, estimated: false },
  { type: 'done', finishReason: 'tool_calls' },
];

describe('Responses mapping', () => {
  it('numbers events consecutively from 0, identically on every replay', () => {
    const a = responses(native(answer));
    expect(a.map((e) => e.sequence_number)).toEqual(a.map((_, i) => i));
    expect(JSON.stringify(responses(native(answer)))).toBe(JSON.stringify(a));
    expect(a.map((e) => e.type)).toEqual([
      'response.created', 'response.in_progress',
      'response.output_item.added', 'response.content_part.added', 'response.reasoning_text.delta', 'response.reasoning_text.done', 'response.content_part.done', 'response.output_item.done',
      'response.output_item.added', 'response.content_part.added', 'response.output_text.delta', 'response.output_text.delta', 'response.output_text.done', 'response.content_part.done', 'response.output_item.done',
      'response.output_item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.delta', 'response.function_call_arguments.done', 'response.output_item.done',
      'response.completed',
    ]);
    const final = (a.at(-1) as unknown as { response: { output: { type: string }[]; usage: { total_tokens: number } } }).response;
    expect(final.output.map((o) => o.type)).toEqual(['reasoning', 'message', 'function_call']);
    expect(final.output[2]).toMatchObject({ call_id: 'c1', name: 'f', arguments: '{"a":1}', status: 'completed' });
    expect(final.usage.total_tokens).toBe(7);
  });

  it('a reset after content is an error event and the output starts over; before content it is invisible', () => {
    const silent = responses(native([{ type: 'reset', reason: 'retry', attempt: 2 }, { type: 'delta', text: 'x' }, { type: 'done', finishReason: 'stop' }]));
    expect(silent.map((e) => e.type)).not.toContain('error');
    const loud = responses(native([{ type: 'delta', text: 'old' }, { type: 'reset', reason: 'retry', attempt: 2 }, { type: 'delta', text: 'new' }, { type: 'done', finishReason: 'length' }]));
    expect(loud.filter((e) => e.type === 'error')).toHaveLength(1);
    const final = (loud.at(-1) as unknown as { type: string; response: { status: string; output: { content: { text: string }[] }[] } });
    expect(final.type).toBe('response.incomplete');
    expect(final.response.output.map((o) => o.content[0]!.text)).toEqual(['new']);
  });

  it('error and cancel end with response.failed and response.cancelled', () => {
    expect(responses(native([{ type: 'error', code: 'upstream_http', message: 'boom', retryable: false }])).at(-1)).toMatchObject({ type: 'response.failed', response: { status: 'failed', error: { code: 'upstream_http', message: 'boom' } } });
    expect(responses(native([{ type: 'delta', text: 'a' }, { type: 'cancelled', reason: 'client_request' }])).at(-1)).toMatchObject({ type: 'response.cancelled', response: { status: 'cancelled' } });
  });
});

describe('chat chunk mapping', () => {
  it('role first, content, tool call pieces, finish_reason, then the usage chunk', () => {
    const c = new ChatChunks({ id: 'chatcmpl-S', created: 1, model: 'mock' }, true);
    const chunks = [c.first(), ...native(answer).flatMap((e) => c.event(e))] as { choices: { delta: Record<string, unknown>; finish_reason: string | null }[]; usage?: unknown }[];
    expect(chunks[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '', refusal: null });
    expect(chunks.map((x) => x.choices[0]?.finish_reason ?? null).filter(Boolean)).toEqual(['tool_calls']);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } });
    expect(chunks[4]!.choices[0]!.delta).toEqual({ tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a"' } }] });
  });

  it('a failure is a frame with a top-level error (the SDK throws it)', () => {
    const c = new ChatChunks({ id: 'x', created: 1, model: 'mock' }, false);
    expect(native([{ type: 'error', code: 'upstream_timeout', message: 'slow', retryable: false }]).flatMap((e) => c.event(e))).toEqual([{ error: { message: 'slow', type: 'server_error', param: null, code: 'upstream_timeout' } }]);
  });
});

describe('UI message chunk mapping', () => {
  it('gives the AI SDK chunk sequence, with usage in the finish metadata', () => {
    const u = new UiChunks('S');
    const chunks = [...u.start(), ...native(answer).flatMap((e) => u.event(e))];
    expect(chunks.map((c) => c.type)).toEqual(['start', 'start-step', 'reasoning-start', 'reasoning-delta', 'reasoning-end', 'text-start', 'text-delta', 'text-delta', 'text-end', 'tool-input-start', 'tool-input-delta', 'tool-input-delta', 'tool-input-available', 'finish-step', 'finish']);
    expect(chunks[0]).toEqual({ type: 'start', messageId: 'msg_S' });
    expect(chunks[12]).toMatchObject({ toolCallId: 'c1', toolName: 'f', input: { a: 1 }, dynamic: true });
    expect(chunks.at(-1)).toEqual({ type: 'finish', finishReason: 'tool-calls', messageMetadata: { sessionId: 'S', usage: { inputTokens: 3, outputTokens: 4 } } });
  });
});
