import { describe, expect, it } from 'vitest';
import type { RelaycastEvent } from '@relaycast/protocol';
import type { Route } from '@relaycast/shared';
import { decodeChunks, firstBadSplit, providerRoute as route, reassemble, transcript } from '../helpers/provider-decode.js';

// Issue 16: what real provider streams send that the first adapters got wrong. Each transcript is the
// project's own, shaped like a recorded stream of that server (its header says which behaviour it pins).
const d = (text: string): RelaycastEvent => ({ type: 'delta', text });
const th = (text: string): RelaycastEvent => ({ type: 'thinking', text });
const tool = (index: number, args: string, id?: string, name?: string): RelaycastEvent => ({ type: 'tool_call', index, ...(id ? { id } : {}), ...(name ? { name } : {}), arguments: args });
const usage = (inputTokens: number, outputTokens: number) => ({ inputTokens, outputTokens, estimated: false });
const end = (reason: string, i: number, o: number): RelaycastEvent[] => [{ type: 'usage', ...usage(i, o) }, { type: 'done', finishReason: reason, usage: usage(i, o) }];

const CASES: [file: string, route: Route, expected: RelaycastEvent[]][] = [
  [
    'openai-parallel-tools.sse',
    route('openai'),
    [tool(0, '', 'call_Rk2vXq81LmNa', 'lookup_tide'), tool(0, '{"port":'), tool(0, '"Brest"}'), tool(1, '', 'call_Wq5zTe09PoUb', 'lookup_moon_phase'), tool(1, '{"date":"2026-12-08"}'), ...end('tool_calls', 118, 52)],
  ],
  [
    'openai-reasoning-content.sse',
    route('openai'),
    [th('The user'), th('’s asking'), th(' for a haiku about fog.'), th('\n\nFive, seven, five.'), d('Grey breath'), d(' on the bay —'), d('\nlighthouse counts'), d(' the hours'), ...end('stop', 21, 64)],
  ],
  ['openai-reasoning-field.sse', route('openai'), [th('Two plus'), th(' two is four.'), d('It is'), d(' 4.'), ...end('stop', 14, 16)]],
  [
    'openai-tools-noindex.sse',
    route('openai'),
    [tool(0, '{"value": 12, "from": "mi", "to": "km"}', 'Xk29dLpQe', 'convert_units'), tool(1, '{"value": 3, "from": "lb", "to": "kg"}', 'bT7wRz3Nc', 'convert_units'), ...end('tool_calls', 131, 44)],
  ],
  ['anthropic-tool-no-args.sse', route('anthropic'), [d('Refreshing the cache'), d(' now.'), tool(0, '', 'toolu_01Rc4xNoArgsKq2', 'refresh_cache'), tool(0, '{}'), ...end('tool_calls', 402, 37)]],
  // Input is message_delta's 61 plus the 1024 cache-read tokens it reports, not message_start's 43.
  ['anthropic-usage-revised.sse', route('anthropic'), [d('Pong'), d(' — ok'), ...end('stop', 61 + 1024, 5)]],
  [
    'anthropic-thinking-blocks.sse',
    route('anthropic'),
    [th('The user wants the boiling point'), th(' at altitude; I should look it up.'), th('\n\nAbout 92 °C there.'), d('Water boils near '), d('92 °C at 2,400 m.'), ...end('stop', 318 + 256, 96)],
  ],
  [
    'openai-responses-done-only.sse',
    route('openai-responses'),
    [
      th('Two lookups are needed: the train times and the weather.'),
      d('Checking both for you — one moment.'),
      tool(0, '', 'call_rc_trains_1', 'train_times'),
      tool(0, '{"from":"Lyon","to":"Annecy"}'),
      tool(1, '', 'call_rc_weather_2', 'weather'),
      tool(1, '{"city":"Annecy"}'),
      ...end('tool_calls', 164, 58),
    ],
  ],
  [
    'openai-responses-summary-parts.sse',
    route('openai-responses'),
    [
      th('**Reading the question**\n\n'),
      th('The user wants a packing list.'),
      th('\n\n**Choosing items**\n\n'),
      th('Layers, rain shell, map.'),
      th('\n\n**Checking length**'),
      th('\n\nKeep it short.'),
      d('Pack layers,'),
      d(' a rain shell'),
      d(' and a map. ⛰️'),
      ...end('stop', 27, 212),
    ],
  ],
  ['openai-responses-error-nested.sse', route('openai-responses'), [{ type: 'error', code: 'upstream_error', message: 'server_error: The server had an error processing your request. Please retry.', retryable: true }]],
];

describe('real-server quirks, over the project’s own transcripts', () => {
  it.each(CASES)('%s whole gives the expected events', (file, r, expected) => {
    expect(decodeChunks(r, [transcript(file)])).toEqual(expected);
  });

  it.each(CASES)('%s split at every byte boundary (and byte by byte) gives the same events', (file, r, expected) => {
    const bytes = transcript(file);
    expect(firstBadSplit(r, bytes, expected)).toBeUndefined();
    expect(decodeChunks(r, [...bytes].map((b) => Uint8Array.of(b)))).toEqual(expected);
  });

  it.each(CASES.filter(([, , e]) => e.some((x) => x.type === 'tool_call')))('%s: every reassembled call has its name and id, and arguments that parse as JSON', (file, r) => {
    const calls = reassemble(decodeChunks(r, [transcript(file)]));
    expect(calls.length).toBeGreaterThan(0);
    for (const c of calls) {
      expect(c.name).toMatch(/^\w+$/);
      expect(c.id).toMatch(/^\w+$/);
      expect(() => JSON.parse(c.arguments)).not.toThrow();
    }
  });
});

describe('quirks in detail', () => {
  const frames = (...s: string[]) => [Buffer.from(s.join(''))];
  const chat = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const responses = (type: string, o: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...o })}\n\n`;

  it('OpenAI chat: a name repeated on later pieces is sent once; an index-less piece with no id continues the last call', () => {
    const got = decodeChunks(route('openai'), frames(chat({ tool_calls: [{ index: 0, id: 'a', function: { name: 'f', arguments: '{' } }] }), chat({ tool_calls: [{ index: 0, id: 'a', function: { name: 'f', arguments: '}' } }] }), chat({ tool_calls: [{ function: { arguments: ' ' } }] }), chat({}, 'tool_calls'), 'data: [DONE]\n\n'));
    expect(got.slice(0, 3)).toEqual([tool(0, '{', 'a', 'f'), tool(0, '}'), tool(0, ' ')]);
  });

  it('OpenAI chat: a new id on an index already used is a new call (servers that number every call 0)', () => {
    const got = decodeChunks(route('openai'), frames(chat({ tool_calls: [{ index: 0, id: 'a', function: { name: 'f', arguments: '{}' } }] }), chat({ tool_calls: [{ index: 0, id: 'b', function: { name: 'g', arguments: '{' } }] }), chat({ tool_calls: [{ index: 0, function: { arguments: '}' } }] }), chat({}, 'tool_calls'), 'data: [DONE]\n\n'));
    expect(reassemble(got)).toEqual([{ index: 0, id: 'a', name: 'f', arguments: '{}' }, { index: 1, id: 'b', name: 'g', arguments: '{}' }]);
  });

  it('OpenAI chat: reasoning_content wins over reasoning when a server sends both (no doubled thinking)', () => {
    const got = decodeChunks(route('openai'), frames(chat({ reasoning_content: 'x', reasoning: 'x' }), chat({}, 'stop'), 'data: [DONE]\n\n'));
    expect(got.filter((e) => e.type === 'thinking')).toEqual([th('x')]);
  });

  it('Responses: a .done text that continues the deltas sends only the rest; one that does not is ignored', () => {
    const ok = decodeChunks(route('openai-responses'), frames(responses('response.output_text.delta', { item_id: 'm', content_index: 0, delta: 'Hel' }), responses('response.output_text.done', { item_id: 'm', content_index: 0, text: 'Hello' }), responses('response.completed', { response: {} })));
    expect(ok.slice(0, 2)).toEqual([d('Hel'), d('lo')]);
    const other = decodeChunks(route('openai-responses'), frames(responses('response.output_text.delta', { item_id: 'm', content_index: 0, delta: 'XX' }), responses('response.output_text.done', { item_id: 'm', content_index: 0, text: 'Hello' }), responses('response.completed', { response: {} })));
    expect(other.filter((e) => e.type === 'delta')).toEqual([d('XX')]);
  });

  it('Responses: events that carry only item_id or only output_index are one item; the final output is matched by id', () => {
    const item = { id: 'msg_1', type: 'message', content: [{ type: 'output_text', text: 'Hello' }] };
    const got = decodeChunks(
      route('openai-responses'),
      frames(
        responses('response.output_item.added', { output_index: 1, item: { id: 'msg_1', type: 'message', content: [] } }),
        responses('response.output_text.delta', { output_index: 1, content_index: 0, delta: 'Hel' }),
        responses('response.output_text.delta', { item_id: 'msg_1', content_index: 0, delta: 'lo' }),
        responses('response.output_item.done', { item_id: 'msg_1', item }),
        // The final output leaves the reasoning item out: the message sits at position 0, not 1.
        responses('response.completed', { response: { output: [item] } }),
      ),
    );
    expect(got.filter((e) => e.type === 'delta')).toEqual([d('Hel'), d('lo')]);
  });

  it('Responses: a server that sends only response.completed still gives its text, reasoning and calls', () => {
    const output = [
      { id: 'r', type: 'reasoning', summary: [{ type: 'summary_text', text: 'a' }, { type: 'summary_text', text: 'b' }] },
      { id: 'm', type: 'message', content: [{ type: 'output_text', text: 'hi' }] },
      { id: 'f', type: 'function_call', call_id: 'c1', name: 'g', arguments: '{}' },
    ];
    const got = decodeChunks(route('openai-responses'), frames(responses('response.completed', { response: { output, usage: { input_tokens: 1, output_tokens: 2 } } })));
    expect(got).toEqual([th('a'), th('\n\nb'), d('hi'), tool(0, '', 'c1', 'g'), tool(0, '{}'), ...end('tool_calls', 1, 2)]);
  });

  it('Anthropic: a tool_use whose start carries its whole input and no deltas gives that input', () => {
    const a = (type: string, o: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...o })}\n\n`;
    const got = decodeChunks(route('anthropic'), frames(a('message_start', { message: { usage: { input_tokens: 3, output_tokens: 1 } } }), a('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 't', name: 'n', input: { q: 1 } } }), a('content_block_stop', { index: 0 }), a('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 4 } }), a('message_stop', {})));
    expect(got).toEqual([tool(0, '', 't', 'n'), tool(0, '{"q":1}'), ...end('tool_calls', 3, 4)]);
  });
});
