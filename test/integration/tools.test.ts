import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * Tools in the native request (issue 21): `POST /v1/sessions` with tools reaches each provider format in
 * its own request shape (the mock model reads each one as the real server does) and comes back as
 * `tool_call` events; the round trip with the result comes back as text; bad definitions are 400s.
 */
let sys: TestSystem;
beforeAll(async () => {
  sys = await startSystem();
});
afterAll(async () => {
  await sys?.close();
});

const tools = [
  { name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } },
];
const ask = [{ role: 'user', content: 'weather in Lisbon?' }];

async function run(body: Record<string, unknown>) {
  const s = await sys.create({ max_tokens: 12, ...body });
  const r = await readSse(sys.edges[0]!.url, s.eventsUrl, { timeoutMs: 30_000 });
  const data = r.events.map((e) => ({ type: e.event, ...(JSON.parse(e.data) as Record<string, unknown>) }));
  const calls = data.filter((e) => e.type === 'tool_call') as unknown as { index: number; id?: string; name?: string; arguments: string }[];
  return {
    last: data.at(-1) as { type?: string; finishReason?: string },
    text: data.filter((e) => e.type === 'delta').map((e) => (e as { text?: string }).text).join(''),
    call: { id: calls.find((c) => c.id)?.id, name: calls.find((c) => c.name)?.name, arguments: calls.map((c) => c.arguments).join('') },
  };
}

const post = (body: unknown) => fetch(`${sys.edges[0]!.url}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', ...sys.auth }, body: JSON.stringify(body) });

describe('POST /v1/sessions with tools, on every provider format', () => {
  it.each(['mock', 'mock-responses', 'mock-anthropic', 'mock-ollama'])('%s: a tool_call to a requested tool with JSON arguments (finish tool_calls), then text for its result', async (model) => {
    const first = await run({ model, messages: ask, tools, tool_choice: { name: 'get_time' } });
    expect(first.last).toMatchObject({ type: 'done', finishReason: 'tool_calls' });
    expect(first.call.name).toBe('get_time');
    expect(JSON.parse(first.call.arguments)).toEqual({ zone: expect.any(String) });
    expect(first.text).toBe('');
    // Ollama gives its calls no id: the caller names them.
    const id = first.call.id ?? 'call_0';
    const second = await run({ model, tools, messages: [...ask, { role: 'assistant', toolCalls: [{ id, name: 'get_time', arguments: first.call.arguments }] }, { role: 'tool', toolCallId: id, content: '14:05 in Lisbon' }] });
    expect(second.last).toMatchObject({ type: 'done', finishReason: 'length' });
    expect(second.text).toMatch(/^the tool said 14:05 in Lisbon/);
    const none = await run({ model, messages: ask, tools, tool_choice: 'none' });
    expect([none.call.name, none.last.finishReason]).toEqual([undefined, 'length']);
  });
});

describe('bad tool input is a 400 invalid_tool', () => {
  const valid = { messages: ask, tools };
  it.each([
    ['a name with a space', { ...valid, tools: [{ name: 'get weather', parameters: { type: 'object' } }] }, 'tools.0.name'],
    ['parameters that are not an object schema', { ...valid, tools: [{ name: 'f', parameters: { type: 'string' } }] }, 'tools.0.parameters'],
    ['parameters over the size bound', { ...valid, tools: [{ name: 'f', parameters: { type: 'object', description: 'x'.repeat(20_000) } }] }, 'tools.0.parameters'],
    ['more than 64 tools', { ...valid, tools: Array.from({ length: 65 }, (_, i) => ({ name: `f${i}` })) }, 'tools'],
    ['an unknown tool field', { ...valid, tools: [{ name: 'f', type: 'web_search' }] }, 'tools.0'],
    ['a name defined twice', { ...valid, tools: [{ name: 'f' }, { name: 'f' }] }, 'tools.1.name'],
    ['a tool_choice naming no tool', { ...valid, tool_choice: { name: 'nope' } }, 'tool_choice.name'],
    ['required with no tools', { messages: ask, tool_choice: 'required' }, 'tool_choice'],
    ['a bad tool_choice', { ...valid, tool_choice: 'sometimes' }, 'tool_choice'],
    ['a tool result answering no call', { ...valid, messages: [...ask, { role: 'tool', toolCallId: 'call_9', content: 'x' }] }, 'messages.1.toolCallId'],
    ['a tool message without its call id', { ...valid, messages: [...ask, { role: 'tool', content: 'x' }] }, 'messages.1'],
    ['call arguments that are not a JSON object', { ...valid, messages: [...ask, { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'f', arguments: '[1]' }] }] }, 'messages.1.toolCalls.0.arguments'],
    ['tools for a plain SSE model', { ...valid, model: 'mock-sse' }, 'plain SSE'],
  ])('%s', async (_, body, where) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    const e = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(e.code).toBe('invalid_tool');
    expect(e.message).toContain(where);
  });

  it('toolCalls on a user message is invalid_tool too; an unknown role stays invalid_request', async () => {
    const res = await post({ messages: [{ role: 'user', content: 'x', toolCalls: [] }] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_tool');
    const role = await post({ messages: [{ role: 'robot', content: 'x' }] });
    expect(((await role.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  });
});
