import type Anthropic from '@anthropic-ai/sdk';
import type { ChatRequest } from 'ollama';
import type OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { GenerateJob } from '@relaycast/shared';
import { PROVIDER_ADAPTERS } from '../../services/ingest/src/providers/index.js';
import { providerRoute } from '../helpers/provider-decode.js';

// The native tools and round trip in each provider's request. Every expected body is typed with the
// provider's official SDK request type, so `tsc -p test` checks the shapes against the SDKs (the judges),
// and the assertion checks ingest builds exactly that body.
const weather = { name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const roundTrip: GenerateJob = {
  sessionId: 's',
  model: 'm',
  params: { max_tokens: 50 },
  tools: [weather, { name: 'get_time', parameters: { type: 'object', properties: {} } }],
  toolChoice: { name: 'get_weather' },
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Weather in Lisbon and Porto?' },
    { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Lisbon"}' }, { id: 'call_2', name: 'get_weather', arguments: '{"city":"Porto"}' }] },
    { role: 'tool', toolCallId: 'call_1', content: 'sunny' },
    { role: 'tool', toolCallId: 'call_2', content: 'rain' },
    { role: 'user', content: 'And tomorrow?' },
  ],
};
const body = (provider: 'openai' | 'anthropic' | 'ollama' | 'openai-responses', job: GenerateJob = roundTrip) => JSON.parse(PROVIDER_ADAPTERS[provider].request(providerRoute(provider), job, undefined).body!) as Record<string, unknown>;

describe('tools in provider requests', () => {
  it('OpenAI chat: function tools, tool_choice, assistant tool_calls, role tool with tool_call_id', () => {
    const want: OpenAI.ChatCompletionCreateParamsStreaming = {
      model: 'm-1',
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 50,
      tools: [{ type: 'function', function: weather }, { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Lisbon and Porto?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Lisbon"}' } }, { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Porto"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'call_2', content: 'rain' },
        { role: 'user', content: 'And tomorrow?' },
      ],
    };
    expect(body('openai')).toEqual(want);
  });

  it('Anthropic: input_schema tools, tool_choice tool, tool_use blocks, the results as tool_result blocks of one user turn', () => {
    const want: Anthropic.MessageCreateParamsStreaming = {
      model: 'm-1',
      max_tokens: 50,
      system: 'Be brief.',
      stream: true,
      tools: [{ name: 'get_weather', description: 'The weather in a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }, { name: 'get_time', input_schema: { type: 'object', properties: {} } }],
      tool_choice: { type: 'tool', name: 'get_weather' },
      messages: [
        { role: 'user', content: 'Weather in Lisbon and Porto?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Lisbon' } }, { type: 'tool_use', id: 'call_2', name: 'get_weather', input: { city: 'Porto' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: 'sunny' }, { type: 'tool_result', tool_use_id: 'call_2', content: 'rain' }, { type: 'text', text: 'And tomorrow?' }] },
      ],
    };
    expect(body('anthropic')).toEqual(want);
    const choices = (['auto', 'none', 'required'] as const).map((toolChoice) => body('anthropic', { ...roundTrip, toolChoice }).tool_choice);
    expect(choices).toEqual([{ type: 'auto' }, { type: 'none' }, { type: 'any' }] satisfies Anthropic.ToolChoice[]);
    // The API refuses tool_use blocks in a request without tools: the ones used are defined, and not callable.
    const noTools = body('anthropic', { ...roundTrip, tools: undefined, toolChoice: undefined });
    expect([noTools.tools, noTools.tool_choice]).toEqual([[{ name: 'get_weather', input_schema: { type: 'object' } }], { type: 'none' }] satisfies [Anthropic.Tool[], Anthropic.ToolChoice]);
  });

  it('Ollama: function tools (only the chosen one), assistant tool_calls with object arguments, role tool naming the tool', () => {
    const want: ChatRequest = {
      model: 'm-1',
      stream: true,
      options: { num_predict: 50 },
      tools: [{ type: 'function', function: weather }],
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Lisbon and Porto?' },
        { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Lisbon' } } }, { function: { name: 'get_weather', arguments: { city: 'Porto' } } }] },
        { role: 'tool', content: 'sunny', tool_name: 'get_weather' },
        { role: 'tool', content: 'rain', tool_name: 'get_weather' },
        { role: 'user', content: 'And tomorrow?' },
      ],
    };
    expect(body('ollama')).toEqual(want);
    expect(body('ollama', { ...roundTrip, toolChoice: 'none' }).tools).toBeUndefined();
  });

  it('Responses: flat function tools (strict off), tool_choice, function_call and function_call_output items', () => {
    const want: OpenAI.Responses.ResponseCreateParamsStreaming = {
      model: 'm-1',
      stream: true,
      max_output_tokens: 50,
      tools: [{ type: 'function', ...weather, strict: false }, { type: 'function', name: 'get_time', parameters: { type: 'object', properties: {} }, strict: false }],
      tool_choice: { type: 'function', name: 'get_weather' },
      input: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Lisbon and Porto?' },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Lisbon"}' },
        { type: 'function_call', call_id: 'call_2', name: 'get_weather', arguments: '{"city":"Porto"}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
        { type: 'function_call_output', call_id: 'call_2', output: 'rain' },
        { role: 'user', content: 'And tomorrow?' },
      ],
    };
    expect(body('openai-responses')).toEqual(want);
  });

  it('a job without tools sends the messages it always did, and no tool fields', () => {
    const plain: GenerateJob = { sessionId: 's', model: 'm', params: {}, messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'yo' }] };
    for (const p of ['openai', 'anthropic', 'ollama'] as const) {
      const b = body(p, plain);
      expect(b.messages).toEqual(plain.messages);
      expect([b.tools, b.tool_choice]).toEqual([undefined, undefined]);
    }
    expect(body('openai-responses', plain).input).toEqual(plain.messages);
  });
});
