import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { DefaultChatTransport, readUIMessageStream, type UIMessage } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginx, type TestNginx } from '../helpers/nginx.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * Both compatible surfaces through deploy/nginx.conf run by the real nginx binary, in front of two real
 * edges: events arrive while the generation still runs (nothing buffered), and resume works through it.
 */

let sys: TestSystem;
let lb: TestNginx;
beforeAll(async () => {
  sys = await startSystem({ edges: 2 });
  lb = await startNginx({ upstreams: sys.edges.map((e) => `127.0.0.1:${e.port}`) });
});
afterAll(async () => {
  await lb?.stop();
  await sys?.close();
});

const client = () => new OpenAI({ apiKey: sys.apiKey, baseURL: `${lb.url}/openai/v1`, maxRetries: 0 });
const statusOf = async (sessionId: string) => ((await (await fetch(`${lb.url}/v1/sessions/${sessionId}`, { headers: sys.auth })).json()) as { status: string }).status;
const slow = { intervalMs: 60 };

describe('through nginx', () => {
  it('chat completion chunks arrive while the generation runs', async () => {
    const { data: stream, response } = await client().chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'proxied' }], max_tokens: 15, stream: true, mock: slow } as OpenAI.ChatCompletionCreateParamsStreaming).withResponse();
    const id = response.headers.get('x-relaycast-session-id')!;
    let statusAtFirst: string | undefined;
    let text = '';
    let finish: string | null | undefined;
    for await (const c of stream) {
      if (c.choices[0]?.delta.content && statusAtFirst === undefined) statusAtFirst = await statusOf(id);
      text += c.choices[0]?.delta.content ?? '';
      finish ??= c.choices[0]?.finish_reason;
    }
    expect(statusAtFirst).toBe('running');
    expect(text.split(' ').length).toBe(15);
    expect(finish).toBe('length');
  });

  it('a background Responses stream resumes through the proxy with starting_after', async () => {
    const first: ResponseStreamEvent[] = [];
    const stream = await client().responses.create({ model: 'mock', input: 'proxied', background: true, stream: true, max_output_tokens: 15, mock: slow } as OpenAI.Responses.ResponseCreateParamsStreaming);
    for await (const e of stream) {
      first.push(e);
      if (e.type === 'response.output_text.delta') break;
    }
    const id = (first[0] as { response: { id: string } }).response.id;
    expect(await statusOf(id.slice('resp_'.length))).toBe('running');
    const rest: ResponseStreamEvent[] = [];
    for await (const e of await client().responses.retrieve(id, { stream: true, starting_after: first.at(-1)!.sequence_number })) rest.push(e);
    const all = [...first, ...rest];
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    expect((await client().responses.retrieve(id)).output_text).toBe(all.map((e) => (e.type === 'response.output_text.delta' ? e.delta : '')).join(''));
  });

  it('the AI SDK transport streams a turn and its reconnect replays it, unbuffered', async () => {
    const transport = new DefaultChatTransport<UIMessage>({ api: `${lb.url}/ai-sdk/chat`, headers: sys.auth, body: { model: 'mock', max_tokens: 15, mock: slow } });
    const chatId = `proxy${Date.now().toString(36)}`;
    const messages: UIMessage[] = [{ id: 'u1', role: 'user', parts: [{ type: 'text', text: 'proxied' }] }];
    const stream = await transport.sendMessages({ chatId, messages, trigger: 'submit-message', messageId: undefined, abortSignal: undefined });
    const reader = stream.getReader();
    let first: unknown;
    while (!first) {
      const { value } = await reader.read();
      if (value?.type === 'text-delta') first = value;
    }
    await reader.cancel();
    const replay = await transport.reconnectToStream({ chatId });
    expect(replay).not.toBeNull();
    let final: UIMessage | undefined;
    let runningAtFirstText: string | undefined;
    for await (const m of readUIMessageStream({ stream: replay! })) {
      if (runningAtFirstText === undefined && m.parts.some((p) => p.type === 'text')) runningAtFirstText = await statusOf(String(m.id).slice('msg_'.length));
      final = m;
    }
    expect(runningAtFirstText).toBe('running');
    const text = final!.parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
    expect(text.split(' ').length).toBe(15);
    expect(await transport.reconnectToStream({ chatId })).toBeNull();
  });
});
