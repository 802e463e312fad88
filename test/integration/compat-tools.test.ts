import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * Function tools through the OpenAI-compatible surface (issue 21), driven by the official `openai` package
 * against a real edge, ingest worker, Redis and the mock model: the model calls a tool the request defined,
 * and answers in text once the request carries the result, on every provider format behind the surface.
 */
let sys: TestSystem;
const client = () => new OpenAI({ apiKey: sys.apiKey, baseURL: `${sys.edges[0]!.url}/openai/v1`, maxRetries: 0 });

beforeAll(async () => {
  sys = await startSystem();
});
afterAll(async () => {
  await sys?.close();
});

const weather = { name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } }, required: ['city', 'unit'] } };
const time = { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } };
const chatTools: OpenAI.ChatCompletionTool[] = [weather, time].map((f) => ({ type: 'function', function: f }));
const user: OpenAI.ChatCompletionMessageParam = { role: 'user', content: 'weather in Lisbon?' };

describe('chat completions with tools', () => {
  it.each(['mock', 'mock-anthropic', 'mock-ollama', 'mock-responses'])('%s: a tool call from the request (finish tool_calls), then text for its result', async (model) => {
    const first = await client().chat.completions.stream({ model, messages: [user], tools: chatTools, tool_choice: { type: 'function', function: { name: 'get_weather' } }, max_tokens: 12 }).finalChatCompletion();
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    const call = choice.message.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('not a function call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: expect.any(String), unit: 'c' });
    const second = await client().chat.completions.create({ model, tools: chatTools, max_tokens: 12, messages: [user, choice.message, { role: 'tool', tool_call_id: call.id, content: 'sunny, 24 C' }] });
    expect(second.choices[0]!.message.tool_calls).toBeUndefined();
    expect(second.choices[0]!.message.content).toMatch(/^the tool said sunny, 24 C/);
  });

  it('without stream: one chat.completion whose message holds the calls; tool_choice none answers text', async () => {
    const c = await client().chat.completions.create({ model: 'mock', messages: [user], tools: chatTools, tool_choice: 'required', parallel_tool_calls: true });
    expect(c.choices[0]!.finish_reason).toBe('tool_calls');
    expect(c.choices[0]!.message.content).toBeNull();
    expect(c.choices[0]!.message.tool_calls!.map((t) => t.type === 'function' && t.function.name)).toEqual(['get_weather']);
    const none = await client().chat.completions.create({ model: 'mock', messages: [user], tools: chatTools, tool_choice: 'none', max_tokens: 5 });
    expect([none.choices[0]!.finish_reason, none.choices[0]!.message.tool_calls]).toEqual(['length', undefined]);
  });
});

describe('Responses with tools', () => {
  const tools: OpenAI.Responses.FunctionTool[] = [weather, time].map((f) => ({ type: 'function', strict: false, ...f }));

  it('a function_call item, then text after its function_call_output (the output given back whole); the Response repeats the tools', async () => {
    // With reasoning (Anthropic thinking), so the output given back holds a reasoning item too.
    const first = await client().responses.create({ model: 'mock-anthropic', input: 'weather in Lisbon?', tools, tool_choice: { type: 'function', name: 'get_time' }, ...({ mock: { shape: { reasoning: 1 } } } as object) });
    expect(first.output.map((o) => o.type)).toEqual(['reasoning', 'function_call']);
    const call = first.output.find((o) => o.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error('no function call');
    expect(call.name).toBe('get_time');
    expect(JSON.parse(call.arguments)).toEqual({ zone: expect.any(String) });
    expect(first.tools.map((t) => t.type === 'function' && t.name)).toEqual(['get_weather', 'get_time']);
    expect(first.tool_choice).toEqual({ type: 'function', name: 'get_time' });
    const events: string[] = [];
    let text = '';
    const stream = await client().responses.create({ model: 'mock-anthropic', stream: true, tools, input: [{ role: 'user', content: 'weather in Lisbon?' }, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: '14:05' }] });
    for await (const e of stream) {
      events.push(e.type);
      if (e.type === 'response.output_text.delta') text += e.delta;
    }
    // The route's default max_tokens (16) is reached: the mock streams exactly that many tokens.
    expect(events.at(-1)).toBe('response.incomplete');
    expect(text).toMatch(/^the tool said 14:05/);
  });
});

describe('what cannot be carried is a 400 naming it', () => {
  const bad = async (p: Promise<unknown>) => {
    const e = await p.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenAI.BadRequestError);
    return e as InstanceType<typeof OpenAI.BadRequestError>;
  };

  it('built-in and custom tools, strict mode, parallel_tool_calls false, other tool choices, bad definitions', async () => {
    expect((await bad(client().responses.create({ model: 'mock', input: 'x', tools: [{ type: 'web_search' }] }))).param).toBe('tools.0.type');
    expect((await bad(client().chat.completions.create({ model: 'mock', messages: [user], tools: [{ type: 'custom', custom: { name: 'c' } }] }))).param).toBe('tools.0.type');
    expect((await bad(client().responses.create({ model: 'mock', input: 'x', tools: [{ type: 'function', name: 'f', parameters: { type: 'object' }, strict: true }] }))).param).toBe('tools.0.strict');
    expect((await bad(client().chat.completions.create({ model: 'mock', messages: [user], tools: chatTools, parallel_tool_calls: false }))).param).toBe('parallel_tool_calls');
    expect((await bad(client().chat.completions.create({ model: 'mock', messages: [user], tools: chatTools, tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [] } } }))).param).toBe('tool_choice');
    const name = await bad(client().chat.completions.create({ model: 'mock', messages: [user], tools: [{ type: 'function', function: { name: 'no spaces allowed' } }] }));
    expect([name.code, name.param]).toEqual(['invalid_tool', 'tools.0.name']);
    const orphan = await bad(client().chat.completions.create({ model: 'mock', messages: [user, { role: 'tool', tool_call_id: 'call_x', content: 'r' }] }));
    expect([orphan.code, orphan.param]).toEqual(['invalid_tool', 'messages.1.toolCallId']);
    expect((await bad(client().chat.completions.create({ model: 'mock-sse', messages: [user], tools: chatTools }))).code).toBe('invalid_tool');
  });
});
