import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySpace, SessionStore } from '@relaycast/store';
import { RelaycastClient } from '../../packages/client/src/index.js';
import { mockExpectation, type MockShape } from '../../services/mock-model/src/index.js';
import { bearer } from '../helpers/auth.js';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

// Issue 16 through the whole path: upstream bytes (the mock replaying the project's transcripts of real
// servers' quirks, or generating them) -> ingest -> Redis -> SSE, and the status answer's reassembly.
let sys: TestSystem;
let redis: Redis;
let store: SessionStore;
beforeAll(async () => {
  sys = await startSystem({ edges: 1, env: { UPSTREAM_RETRY_BASE_MS: '1' } });
  redis = new Redis(sys.redis.url);
  store = new SessionStore(redis, keySpace(sys.cfg.REDIS_KEY_PREFIX), { maxLen: 1000, retentionSeconds: 60, openTtlSeconds: 60 });
});
afterAll(async () => {
  redis?.disconnect();
  await sys?.close();
});

const PROMPT = 'tell me about rivers';
const edge = () => sys.edges[0]!.url;
async function session(body: Record<string, unknown>) {
  const s = await sys.create({ messages: [{ role: 'user', content: PROMPT }], seed: 5, ...body });
  const r = await readSse(edge(), s.eventsUrl);
  const status = (await (await fetch(edge() + s.statusUrl, { headers: bearer(s.token) })).json()) as Record<string, any>;
  return { events: r.events, status };
}

const call = (index: number, id: string, name: string, args: string) => ({ index, id, name, arguments: args });
const usage = (inputTokens: number, outputTokens: number) => ({ inputTokens, outputTokens, estimated: false });
const TRANSCRIPTS: [file: string, model: string, expected: Record<string, unknown>][] = [
  ['openai-parallel-tools.sse', 'mock', { text: '', toolCalls: [call(0, 'call_Rk2vXq81LmNa', 'lookup_tide', '{"port":"Brest"}'), call(1, 'call_Wq5zTe09PoUb', 'lookup_moon_phase', '{"date":"2026-12-08"}')], usage: usage(118, 52), finishReason: 'tool_calls' }],
  ['openai-reasoning-content.sse', 'mock', { thinking: 'The user’s asking for a haiku about fog.\n\nFive, seven, five.', text: 'Grey breath on the bay —\nlighthouse counts the hours', usage: usage(21, 64) }],
  ['openai-reasoning-field.sse', 'mock', { thinking: 'Two plus two is four.', text: 'It is 4.', usage: usage(14, 16) }],
  ['openai-tools-noindex.sse', 'mock', { toolCalls: [call(0, 'Xk29dLpQe', 'convert_units', '{"value": 12, "from": "mi", "to": "km"}'), call(1, 'bT7wRz3Nc', 'convert_units', '{"value": 3, "from": "lb", "to": "kg"}')], usage: usage(131, 44) }],
  ['anthropic-tool-no-args.sse', 'mock-anthropic', { text: 'Refreshing the cache now.', toolCalls: [call(0, 'toolu_01Rc4xNoArgsKq2', 'refresh_cache', '{}')], usage: usage(402, 37), finishReason: 'tool_calls' }],
  ['anthropic-usage-revised.sse', 'mock-anthropic', { text: 'Pong — ok', usage: usage(61 + 1024, 5), finishReason: 'stop' }],
  ['anthropic-thinking-blocks.sse', 'mock-anthropic', { thinking: 'The user wants the boiling point at altitude; I should look it up.\n\nAbout 92 °C there.', text: 'Water boils near 92 °C at 2,400 m.', toolCalls: [], usage: usage(318 + 256, 96) }],
  [
    'openai-responses-done-only.sse',
    'mock-responses',
    { thinking: 'Two lookups are needed: the train times and the weather.', text: 'Checking both for you — one moment.', toolCalls: [call(0, 'call_rc_trains_1', 'train_times', '{"from":"Lyon","to":"Annecy"}'), call(1, 'call_rc_weather_2', 'weather', '{"city":"Annecy"}')], usage: usage(164, 58) },
  ],
  ['openai-responses-summary-parts.sse', 'mock-responses', { thinking: '**Reading the question**\n\nThe user wants a packing list.\n\n**Choosing items**\n\nLayers, rain shell, map.\n\n**Checking length**\n\nKeep it short.', text: 'Pack layers, a rain shell and a map. ⛰️', usage: usage(27, 212) }],
];

describe('transcripts of real servers’ quirks, through the whole path', () => {
  it.each(TRANSCRIPTS)('%s: the status answer has the names, JSON arguments and final usage', async (file, model, expected) => {
    const { events, status } = await session({ model, mock: { transcript: file } });
    expect(events.at(-1)!.event).toBe('done');
    expect(status).toMatchObject({ status: 'done', ...expected });
    for (const c of status.toolCalls as { arguments: string }[]) expect(() => JSON.parse(c.arguments)).not.toThrow();
    // Events carry no empty names or ids: a reader that keeps the last one it saw is right too.
    for (const e of events.filter((x) => x.event === 'tool_call').map((x) => JSON.parse(x.data))) {
      expect(e.name).not.toBe('');
      expect(e.id).not.toBe('');
    }
  });

  it('openai-responses-error-nested.sse: the nested in-band error ends the session with its message', async () => {
    const { status } = await session({ model: 'mock-responses', mock: { transcript: 'openai-responses-error-nested.sse' } });
    expect(status).toMatchObject({ status: 'error', error: { code: 'upstream_error', message: 'server_error: The server had an error processing your request. Please retry.' } });
  });
});

describe('the mock’s generated shapes, through the whole path', () => {
  const shape: MockShape = { tools: 3, reasoning: 2, blocks: 2, noise: true };
  const want = mockExpectation(PROMPT, 5, 6, shape);
  it.each(['mock', 'mock-responses', 'mock-anthropic', 'mock-ollama'])('%s: parallel calls, reasoning parts, several blocks and noise', async (model) => {
    const { status } = await session({ model, max_tokens: 6, mock: { shape } });
    expect(status).toMatchObject({ status: 'done', text: want.text, thinking: want.thinking, finishReason: 'length' });
    const calls = status.toolCalls as { index: number; id?: string; name: string; arguments: string }[];
    expect(calls.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) as unknown }))).toEqual(want.toolCalls.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) as unknown })));
    // Ollama's calls have no id; every other format's do.
    if (model !== 'mock-ollama') for (const c of calls) expect(c.id).toMatch(/^(call|toolu)_\w+$/);
    // Anthropic (noise): message_start's provisional input count is revised by message_delta.
    expect(status.usage).toMatchObject({ inputTokens: PROMPT.split(' ').length, estimated: false });
  });
});

describe('GET /v1/sessions/:id reassembly', () => {
  it('keeps the first non-empty id and name when a later piece carries "" (events written by any producer)', async () => {
    const s = await sys.create({ messages: [{ role: 'user', content: 'x' }], mock: { firstTokenMs: 10_000 } });
    // Once the worker owns it, take the session over as a new attempt, fencing the slow generation off.
    for (const deadline = Date.now() + 10_000; (await store.meta(s.id))?.status !== 'running'; ) {
      if (Date.now() > deadline) throw new Error('worker never began the session');
      await new Promise((r) => setTimeout(r, 10));
    }
    const b = await store.begin(s.id);
    await store.append(s.id, b.attempt, b.seq + 1, [
      { type: 'tool_call', index: 0, id: 'call_a', name: 'first_tool', arguments: '' },
      { type: 'tool_call', index: 0, id: '', name: '', arguments: '{"k":' },
      { type: 'tool_call', index: 0, name: '', arguments: '1}' },
      { type: 'done', finishReason: 'tool_calls', usage: usage(1, 2) },
    ]);
    const status = (await (await fetch(edge() + s.statusUrl, { headers: bearer(s.token) })).json()) as Record<string, any>;
    expect(status.toolCalls).toEqual([call(0, 'call_a', 'first_tool', '{"k":1}')]);
    // The client library reassembles the same way.
    const sub = new RelaycastClient({ baseUrl: edge() }).subscribe({ id: s.id, token: s.token });
    await sub.result;
    expect([...sub.toolCalls.values()]).toEqual([{ index: 0, id: 'call_a', name: 'first_tool', arguments: '{"k":1}' }]);
  });
});
