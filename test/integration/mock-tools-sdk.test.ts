import Anthropic from '@anthropic-ai/sdk';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockModel, type MockModel } from '../../services/mock-model/src/index.js';

// The mock model answers a request's own tools as a real server does (issue 21): a call to a tool the
// request names, with arguments meeting its schema, then text once the request carries the result. Read
// by the official SDKs, which must parse both streams.
let mock: MockModel;
beforeAll(async () => {
  mock = await startMockModel({ port: 0 });
});
afterAll(() => mock?.close());

const weather = { name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'] } };
const time = { name: 'get_time', description: undefined, parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } };
const prompt = 'weather in Lisbon?';
const RESULT = 'sunny and 24 degrees';
const extra = { mock: { seed: 3 } } as Record<string, unknown>;

describe('openai SDK: chat completions with tools', () => {
  const client = () => new OpenAI({ apiKey: 'sk-mock', baseURL: `${mock.url}/v1`, maxRetries: 0 });
  const tools = [weather, time].map((f) => ({ type: 'function' as const, function: f }));

  it('calls the named tool with arguments meeting its schema (finish tool_calls), then answers the result in text', async () => {
    const first = await client().chat.completions.stream({ model: 'm', messages: [{ role: 'user', content: prompt }], tools, tool_choice: { type: 'function', function: { name: 'get_time' } }, max_tokens: 9, ...extra }).finalChatCompletion();
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.type === 'function' && call.function.name).toBe('get_time');
    expect(JSON.parse(call.type === 'function' ? call.function.arguments : '')).toEqual({ zone: expect.any(String) });
    const auto = await client().chat.completions.stream({ model: 'm', messages: [{ role: 'user', content: prompt }], tools, ...extra }).finalChatCompletion();
    const c = auto.choices[0]!.message.tool_calls![0]!;
    expect(c.type === 'function' && [c.function.name, JSON.parse(c.function.arguments)]).toEqual(['get_weather', { city: expect.any(String), days: expect.any(Number) }]);
    const second = await client().chat.completions.stream({ model: 'm', messages: [{ role: 'user', content: prompt }, auto.choices[0]!.message, { role: 'tool', tool_call_id: c.id, content: RESULT }], tools, max_tokens: 9, ...extra }).finalChatCompletion();
    expect(second.choices[0]!.message.tool_calls ?? []).toEqual([]);
    expect(second.choices[0]!.message.content).toMatch(/^the tool said sunny and 24/);
    const none = await client().chat.completions.stream({ model: 'm', messages: [{ role: 'user', content: prompt }], tools, tool_choice: 'none', ...extra }).finalChatCompletion();
    expect([none.choices[0]!.finish_reason, none.choices[0]!.message.tool_calls ?? []]).toEqual(['stop', []]);
  });
});

describe('openai SDK: Responses with tools', () => {
  const client = () => new OpenAI({ apiKey: 'sk-mock', baseURL: `${mock.url}/v1`, maxRetries: 0 });

  it('a function_call item, then text after its function_call_output', async () => {
    const tools = [{ type: 'function' as const, strict: false, ...weather }];
    const first = await client().responses.stream({ model: 'm', input: prompt, tools, ...extra }).finalResponse();
    const call = first.output.find((o) => o.type === 'function_call')!;
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', call_id: expect.any(String) });
    expect(JSON.parse(call.type === 'function_call' ? call.arguments : '')).toEqual({ city: expect.any(String), days: expect.any(Number) });
    expect(first.status).toBe('completed');
    const second = await client().responses.stream({ model: 'm', input: [{ role: 'user', content: prompt }, call, { type: 'function_call_output', call_id: call.type === 'function_call' ? call.call_id : '', output: RESULT }], tools, ...extra }).finalResponse();
    expect(second.output.some((o) => o.type === 'function_call')).toBe(false);
    expect(second.output_text).toMatch(/^the tool said sunny and 24/);
  });
});

describe('@anthropic-ai/sdk with tools', () => {
  const client = () => new Anthropic({ apiKey: 'sk-mock', baseURL: mock.url, maxRetries: 0 });
  const tools = [weather, time].map(({ name, description, parameters }) => ({ name, ...(description ? { description } : {}), input_schema: parameters as Anthropic.Tool.InputSchema }));

  it('a tool_use block (stop_reason tool_use) with parsed input, then text after the tool_result', async () => {
    const first = await client().messages.stream({ model: 'm', max_tokens: 9, messages: [{ role: 'user', content: prompt }], tools, tool_choice: { type: 'any' }, ...extra }).finalMessage();
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b) => b.type === 'tool_use')!;
    expect(use).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: expect.any(String), days: expect.any(Number) } });
    const id = use.type === 'tool_use' ? use.id : '';
    const second = await client().messages.stream({ model: 'm', max_tokens: 9, messages: [{ role: 'user', content: prompt }, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: RESULT }] }], tools, ...extra }).finalMessage();
    expect(second.stop_reason).toBe('max_tokens');
    expect(second.content.map((b) => (b.type === 'text' ? b.text : '')).join('')).toMatch(/^the tool said sunny and 24/);
    const named = await client().messages.stream({ model: 'm', max_tokens: 9, messages: [{ role: 'user', content: prompt }], tools, tool_choice: { type: 'tool', name: 'get_time' }, ...extra }).finalMessage();
    expect(named.content.find((b) => b.type === 'tool_use')).toMatchObject({ name: 'get_time', input: { zone: expect.any(String) } });
  });
});

describe('ollama SDK with tools', () => {
  const client = () => new Ollama({ host: mock.url });

  it('whole tool calls with object arguments, then text after the role tool message', async () => {
    const tools = [{ type: 'function', function: weather }];
    const calls: { function: { name: string; arguments: Record<string, unknown> } }[] = [];
    for await (const part of await client().chat({ model: 'm', messages: [{ role: 'user', content: prompt }], tools, stream: true, ...extra })) calls.push(...(part.message.tool_calls ?? []));
    expect(calls).toEqual([{ function: { name: 'get_weather', arguments: { city: expect.any(String), days: expect.any(Number) } } }]);
    let text = '';
    const messages = [{ role: 'user', content: prompt }, { role: 'assistant', content: '', tool_calls: calls }, { role: 'tool', content: RESULT, tool_name: 'get_weather' }];
    for await (const part of await client().chat({ model: 'm', messages, tools, stream: true, ...extra })) text += part.message.content;
    expect(text).toMatch(/^the tool said sunny and 24/);
  });
});
