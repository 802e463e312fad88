import Anthropic from '@anthropic-ai/sdk';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockExpectation, startMockModel, type MockModel, type MockShape } from '../../services/mock-model/src/index.js';

// The mock model's streams, read by the official SDKs over real HTTP: each must parse every generated
// stream (every shape) and throw on the in-band and HTTP errors the way it does for the real servers.
let mock: MockModel;
beforeAll(async () => {
  mock = await startMockModel({ port: 0 });
});
afterAll(() => mock?.close());

const PROMPT = 'plan a walk by the sea';
const SEED = 7;
const N = 9;
const messages = [{ role: 'user' as const, content: PROMPT }];
const SHAPES: [string, MockShape][] = [
  ['plain', {}],
  ['one tool call', { tools: 1 }],
  ['parallel tool calls, reasoning parts, several blocks, noise', { tools: 3, reasoning: 2, blocks: 3, noise: true }],
];
const expected = (shape: MockShape) => mockExpectation(PROMPT, SEED, N, shape);
/** Mock controls ride in the body (the SDKs pass unknown body fields through). */
const extra = (mockControls: Record<string, unknown>) => ({ mock: { seed: SEED, ...mockControls } }) as Record<string, unknown>;
const parsedArgs = (calls: { name: string; arguments: string }[]) => calls.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) as unknown }));

describe('openai SDK: chat completions', () => {
  const client = () => new OpenAI({ apiKey: 'sk-mock', baseURL: `${mock.url}/v1`, maxRetries: 0 });

  it.each(SHAPES)('%s: the stream helper accumulates the text, reasoning and calls', async (_, shape) => {
    const want = expected(shape);
    const params = { model: 'm', messages, stream: true, seed: SEED, max_tokens: N, stream_options: { include_usage: true }, ...extra({ shape }) } as unknown as OpenAI.ChatCompletionCreateParamsStreaming;
    const stream = client().chat.completions.stream(params);
    let reasoning = '';
    for await (const chunk of stream) reasoning += (chunk.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? '';
    const done = await stream.finalChatCompletion();
    const msg = done.choices[0]!.message;
    expect(msg.content ?? '').toBe(want.text);
    expect(reasoning).toBe(want.thinking);
    const calls = (msg.tool_calls ?? []).map((c) => (c.type === 'function' ? c.function : { name: '', arguments: '' }));
    expect(parsedArgs(calls)).toEqual(parsedArgs(want.toolCalls));
    expect(done.choices[0]!.finish_reason).toBe('length'); // max_tokens was reached
    expect(done.usage?.completion_tokens).toBeGreaterThanOrEqual(N);
  });

  it('an in-band error mid-stream throws APIError; HTTP 429 and 500 throw RateLimitError and InternalServerError', async () => {
    const stream = await client().chat.completions.create({ model: 'm', messages, stream: true, ...extra({ fault: 'error:2' }) } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const c of stream) seen.push(c.choices[0]?.delta?.content ?? '');
      })(),
    ).rejects.toBeInstanceOf(OpenAI.APIError);
    expect(seen.join('')).not.toBe('');
    const fail = (fault: string) => client().chat.completions.create({ model: 'm', messages, stream: true, ...extra({ fault }) } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
    await expect(fail('status:429')).rejects.toMatchObject({ constructor: OpenAI.RateLimitError, code: 'rate_limit_exceeded' });
    await expect(fail('status:500')).rejects.toMatchObject({ constructor: OpenAI.InternalServerError, code: null });
  });
});

describe('openai SDK: responses', () => {
  const client = () => new OpenAI({ apiKey: 'sk-mock', baseURL: `${mock.url}/v1`, maxRetries: 0 });
  const params = (mockControls: Record<string, unknown>, more: object = {}) => ({ model: 'm', input: messages, stream: true, ...more, ...extra(mockControls) }) as unknown as OpenAI.Responses.ResponseCreateParamsStreaming;

  it.each(SHAPES)('%s: the stream helper accumulates the final response', async (_, shape) => {
    const want = expected(shape);
    const stream = client().responses.stream(params({ shape }, { max_output_tokens: N }));
    let summary = '';
    let lastPart = -1;
    for await (const e of stream) {
      if (e.type !== 'response.reasoning_summary_text.delta') continue;
      summary += (e.summary_index !== lastPart && lastPart >= 0 ? '\n\n' : '') + e.delta;
      lastPart = e.summary_index;
    }
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(want.text);
    expect(summary).toBe(want.thinking);
    const calls = final.output.flatMap((o) => (o.type === 'function_call' ? [{ name: o.name, arguments: o.arguments }] : []));
    expect(parsedArgs(calls)).toEqual(parsedArgs(want.toolCalls));
    expect(final.status).toBe('incomplete'); // max_output_tokens was reached
    expect(final.usage?.input_tokens).toBe(PROMPT.split(' ').length);
  });

  it('the in-band error (nested, as OpenAI sends it) throws APIError, the same class as the real shape', async () => {
    const drain = async (p: OpenAI.Responses.ResponseCreateParamsStreaming) => {
      for await (const e of await client().responses.create(p)) void e;
    };
    const generated = await drain(params({ fault: 'error:2' })).catch((e: unknown) => e);
    const replayed = await drain(params({ transcript: 'openai-responses-error-nested.sse' })).catch((e: unknown) => e);
    expect(generated).toBeInstanceOf(OpenAI.APIError);
    expect(replayed).toBeInstanceOf(OpenAI.APIError);
    expect((generated as Error).constructor).toBe((replayed as Error).constructor);
    expect(generated).toMatchObject({ code: 'server_error', type: 'server_error', message: expect.stringContaining('mock in-band error') });
  });
});

describe('@anthropic-ai/sdk: messages', () => {
  const client = () => new Anthropic({ apiKey: 'sk-ant-mock', baseURL: mock.url, maxRetries: 0 });
  const params = (mockControls: Record<string, unknown>) => ({ model: 'claude-mock', max_tokens: N, messages, stream: true, ...extra(mockControls) }) as unknown as Anthropic.MessageCreateParamsStreaming;

  it.each(SHAPES)('%s: the stream helper accumulates blocks, parsed tool input and the revised usage', async (_, shape) => {
    const want = expected(shape);
    const final = await client().messages.stream(params({ shape })).finalMessage();
    const text = final.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
    const thinking = final.content.flatMap((b) => (b.type === 'thinking' ? [b.thinking] : []));
    expect(text).toBe(want.text);
    expect(thinking.join('\n\n')).toBe(want.thinking);
    expect(final.content.filter((b) => b.type === 'text')).toHaveLength(shape.blocks ?? 1);
    const calls = final.content.flatMap((b) => (b.type === 'tool_use' ? [{ name: b.name, args: b.input }] : []));
    expect(calls).toEqual(parsedArgs(want.toolCalls));
    // message_delta's input count stands, even where message_start's was provisional (noise).
    expect(final.usage.input_tokens).toBe(PROMPT.split(' ').length);
    expect(final.stop_reason).toBe('max_tokens');
  });

  it('the in-band error event throws APIError; HTTP 529 and 429 throw by status', async () => {
    const drain = async (p: Anthropic.MessageCreateParamsStreaming) => {
      for await (const e of await client().messages.create(p)) void e;
    };
    const inBand = await drain(params({ fault: 'error:2' })).catch((e: unknown) => e);
    expect(inBand).toBeInstanceOf(Anthropic.APIError);
    expect(inBand).toMatchObject({ type: 'overloaded_error' });
    await expect(drain(params({ fault: 'status:529' }))).rejects.toBeInstanceOf(Anthropic.InternalServerError);
    await expect(drain(params({ fault: 'status:429' }))).rejects.toBeInstanceOf(Anthropic.RateLimitError);
  });
});

describe('ollama SDK: chat', () => {
  const client = () => new Ollama({ host: mock.url });
  const request = (mockControls: Record<string, unknown>) => ({ model: 'm', messages, stream: true as const, options: { seed: SEED, num_predict: N }, ...extra(mockControls) });

  it.each(SHAPES)('%s: streamed parts carry the text, thinking and whole tool calls', async (_, shape) => {
    const want = expected(shape);
    let text = '';
    let thinking = '';
    const calls: { name: string; args: unknown }[] = [];
    let last: { done: boolean; done_reason: string; eval_count: number } | undefined;
    for await (const part of await client().chat(request({ shape }))) {
      text += part.message.content;
      thinking += part.message.thinking ?? '';
      for (const t of part.message.tool_calls ?? []) calls.push({ name: t.function.name, args: t.function.arguments });
      last = part;
    }
    expect(text).toBe(want.text);
    expect(thinking).toBe(want.thinking);
    expect(calls).toEqual(parsedArgs(want.toolCalls));
    expect(last).toMatchObject({ done: true, done_reason: 'length' });
  });

  it('an in-band error line throws; an HTTP error throws with its status', async () => {
    const drain = async (r: ReturnType<typeof request>) => {
      for await (const p of await client().chat(r)) void p;
    };
    await expect(drain(request({ fault: 'error:2' }))).rejects.toThrow('mock in-band error');
    await expect(drain(request({ fault: 'status:500' }))).rejects.toMatchObject({ status_code: 500, error: 'mock fault status 500' });
  });
});

// Stop sequences, read by the official SDKs: each provider's own request field, and the stop reason its
// real server reports, typed as the SDK types it.
const STOP_N = 30;
// One tool call is planned after the answer: a stop sequence ends the turn before it is ever made.
const WANT = mockExpectation(PROMPT, SEED, STOP_N, { tools: 1 });
const STOP = WANT.text.slice(60, 67);
const BEFORE = WANT.text.slice(0, WANT.text.indexOf(STOP));
const mockControls = { mock: { seed: SEED, shape: { tools: 1 } } } as Record<string, unknown>;

it('stop sequences: the sequence is in the middle of the planned answer', () => {
  expect(BEFORE.length).toBeGreaterThan(0);
  expect(BEFORE.length).toBeLessThan(WANT.text.length - STOP.length);
});

describe('stop sequences: openai SDK', () => {
  const client = () => new OpenAI({ apiKey: 'sk-mock', baseURL: `${mock.url}/v1`, maxRetries: 0 });

  it('chat `stop` (a string or a list): the text ends before it, finish_reason stop, no tool call', async () => {
    for (const stop of [STOP, ['never in the text', STOP]]) {
      const params: OpenAI.ChatCompletionCreateParamsStreaming = { model: 'm', messages, stream: true, seed: SEED, max_tokens: STOP_N, stop, ...mockControls };
      const done = await client().chat.completions.stream(params).finalChatCompletion();
      expect(done.choices[0]!.message.content).toBe(BEFORE);
      expect(done.choices[0]!.message.tool_calls ?? []).toEqual([]);
      expect(done.choices[0]!.finish_reason).toBe('stop');
    }
  });

  it('more than 4 sequences is a BadRequestError; the Responses API knows no stop', async () => {
    await expect(client().chat.completions.create({ model: 'm', messages, stream: true, stop: ['a', 'b', 'c', 'd', 'e'] })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(client().responses.create({ model: 'm', input: 'x', stream: true, stop: ['a'] } as never)).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });
});

it('stop sequences: @anthropic-ai/sdk `stop_sequences`: stop_reason stop_sequence naming the one met', async () => {
  const client = new Anthropic({ apiKey: 'sk-ant-mock', baseURL: mock.url, maxRetries: 0 });
  const params: Anthropic.MessageCreateParamsStreaming = { model: 'claude-mock', max_tokens: STOP_N, messages, stream: true, stop_sequences: ['never in the text', STOP], ...mockControls };
  const final = await client.messages.stream(params).finalMessage();
  expect(final.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('')).toBe(BEFORE);
  expect(final.content.some((b) => b.type === 'tool_use')).toBe(false);
  expect(final.stop_reason).toBe('stop_sequence');
  expect(final.stop_sequence).toBe(STOP);
});

it('stop sequences: ollama SDK `options.stop`: the text ends before it, done_reason stop', async () => {
  const client = new Ollama({ host: mock.url });
  let text = '';
  let last: { done: boolean; done_reason: string } | undefined;
  for await (const part of await client.chat({ model: 'm', messages, stream: true, options: { seed: SEED, num_predict: STOP_N, stop: [STOP] }, ...mockControls })) {
    text += part.message.content;
    expect(part.message.tool_calls ?? []).toEqual([]);
    last = part;
  }
  expect(text).toBe(BEFORE);
  expect(last).toMatchObject({ done: true, done_reason: 'stop' });
});
