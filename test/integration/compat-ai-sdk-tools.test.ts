import { AbstractChat, DefaultChatTransport, lastAssistantMessageIsCompleteWithToolCalls, type ChatState, type ChatStatus, type UIMessage } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A client-side tool round trip with the `ai` package's AbstractChat (what `useChat` wraps), unmodified:
 * the app's route gives the tools (here as the transport's body fields), the model calls one, the page
 * adds the tool's output, the chat sends again by itself, and the model answers the result in text.
 */
let sys: TestSystem;
beforeAll(async () => {
  sys = await startSystem();
});
afterAll(async () => {
  await sys?.close();
});

class PlainState implements ChatState<UIMessage> {
  status: ChatStatus = 'ready';
  error: Error | undefined = undefined;
  messages: UIMessage[] = [];
  pushMessage = (m: UIMessage) => void (this.messages = [...this.messages, m]);
  popMessage = () => void (this.messages = this.messages.slice(0, -1));
  replaceMessage = (i: number, m: UIMessage) => void (this.messages = this.messages.map((x, j) => (j === i ? this.snapshot(m) : x)));
  snapshot = <T>(t: T): T => structuredClone(t);
}

const tools = [{ name: 'get_weather', description: 'The weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];

describe('useChat tools over /ai-sdk/chat', () => {
  it('a dynamic tool call with the input object; after addToolOutput the chat sends again and gets text for the result', async () => {
    const state = new PlainState();
    const chat = new (class extends AbstractChat<UIMessage> {})({
      id: `tools${Date.now().toString(36)}`,
      state,
      transport: new DefaultChatTransport({ api: `${sys.edges[0]!.url}/ai-sdk/chat`, headers: sys.auth, body: { model: 'mock', tools, max_tokens: 10 } }),
      sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithToolCalls,
    });
    await chat.sendMessage({ text: 'weather in Lisbon?' });
    const part = state.messages[1]!.parts.find((p) => p.type === 'dynamic-tool');
    if (part?.type !== 'dynamic-tool') throw new Error('no tool part');
    expect(part).toMatchObject({ toolName: 'get_weather', state: 'input-available', input: { city: expect.any(String) } });
    await chat.addToolOutput({ tool: 'get_weather', toolCallId: part.toolCallId, output: { sky: 'sunny' } });
    await waitFor(() => state.status === 'ready' && state.messages.at(-1)!.parts.some((p) => p.type === 'text'), 10_000, 'the answer to the tool result');
    const text = state.messages.at(-1)!.parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
    expect(text).toMatch(/^the tool said \{"sky":"sunny"\}/);
  });

  it('a bad tool definition in the body is 400 invalid_tool', async () => {
    const res = await fetch(`${sys.edges[0]!.url}/ai-sdk/chat`, { method: 'POST', headers: { 'content-type': 'application/json', ...sys.auth }, body: JSON.stringify({ id: 'c1', messages: [{ role: 'user', parts: [{ type: 'text', text: 'x' }] }], tools: [{ name: 'bad name' }] }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_tool');
  });
});
