import Anthropic from '@anthropic-ai/sdk';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockExpectation, startMockModel, type MockModel } from '../../services/mock-model/src/index.js';

// The mock model's stop sequences, read by the official SDKs over real HTTP: each provider's own request
// field, and the stop reason its real server reports, typed as the SDK types it.
let mock: MockModel;
beforeAll(async () => {
  mock = await startMockModel({ port: 0 });
});
afterAll(() => mock?.close());

const PROMPT = 'plan a walk by the sea';
const SEED = 7;
const N = 30;
const messages = [{ role: 'user' as const, content: PROMPT }];
// One tool call is planned after the answer: a stop sequence ends the turn before it is ever made.
const WANT = mockExpectation(PROMPT, SEED, N, { tools: 1 });
const STOP = WANT.text.slice(60, 67);
const BEFORE = WANT.text.slice(0, WANT.text.indexOf(STOP));
const mockControls = { mock: { seed: SEED, shape: { tools: 1 } } } as Record<string, unknown>;

it('the sequence is in the middle of the planned answer', () => {
  expect(BEFORE.length).toBeGreaterThan(0);
  expect(BEFORE.length).toBeLessThan(WANT.text.length - STOP.length);
});

describe('openai SDK', () => {
  const client = () => new OpenAI({ apiKey: 'sk-mock', baseURL: `${mock.url}/v1`, maxRetries: 0 });

  it('chat `stop` (a string or a list): the text ends before it, finish_reason stop, no tool call', async () => {
    for (const stop of [STOP, ['never in the text', STOP]]) {
      const params: OpenAI.ChatCompletionCreateParamsStreaming = { model: 'm', messages, stream: true, seed: SEED, max_tokens: N, stop, ...mockControls };
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

it('@anthropic-ai/sdk `stop_sequences`: stop_reason stop_sequence naming the one met', async () => {
  const client = new Anthropic({ apiKey: 'sk-ant-mock', baseURL: mock.url, maxRetries: 0 });
  const params: Anthropic.MessageCreateParamsStreaming = { model: 'claude-mock', max_tokens: N, messages, stream: true, stop_sequences: ['never in the text', STOP], ...mockControls };
  const final = await client.messages.stream(params).finalMessage();
  expect(final.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('')).toBe(BEFORE);
  expect(final.content.some((b) => b.type === 'tool_use')).toBe(false);
  expect(final.stop_reason).toBe('stop_sequence');
  expect(final.stop_sequence).toBe(STOP);
});

it('ollama SDK `options.stop`: the text ends before it, done_reason stop', async () => {
  const client = new Ollama({ host: mock.url });
  let text = '';
  let last: { done: boolean; done_reason: string } | undefined;
  for await (const part of await client.chat({ model: 'm', messages, stream: true, options: { seed: SEED, num_predict: N, stop: [STOP] }, ...mockControls })) {
    text += part.message.content;
    expect(part.message.tool_calls ?? []).toEqual([]);
    last = part;
  }
  expect(text).toBe(BEFORE);
  expect(last).toMatchObject({ done: true, done_reason: 'stop' });
});
