import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { AbstractChat, DefaultChatTransport, type ChatState, type ChatStatus, type UIMessage } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcCluster, type ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Edges as real OS processes: the client's edge is SIGKILLed mid-answer and the official clients resume on
 * the other one (OpenAI Responses with starting_after; the AI SDK's reconnect).
 */

let c: ProcCluster;
beforeAll(async () => {
  c = await startProcCluster({ edges: 2, workers: 1 });
}, 90_000);
afterAll(async () => {
  await c?.close();
});

const client = (edge: number) => new OpenAI({ apiKey: c.apiKey, baseURL: `${c.edges[edge]!.url}/openai/v1`, maxRetries: 0 });

class PlainState implements ChatState<UIMessage> {
  status: ChatStatus = 'ready';
  error: Error | undefined = undefined;
  constructor(public messages: UIMessage[] = []) {}
  pushMessage = (m: UIMessage) => void (this.messages = [...this.messages, m]);
  popMessage = () => void (this.messages = this.messages.slice(0, -1));
  replaceMessage = (i: number, m: UIMessage) => void (this.messages = this.messages.map((x, j) => (j === i ? structuredClone(m) : x)));
  snapshot = <T>(t: T): T => structuredClone(t);
}
class Chat extends AbstractChat<UIMessage> {
  constructor(id: string, edge: number, messages: UIMessage[] = []) {
    super({ id, state: new PlainState(messages), transport: new DefaultChatTransport({ api: `${c.edges[edge]!.url}/ai-sdk/chat`, headers: c.auth, body: { model: 'mock', max_tokens: 40, mock: { intervalMs: 40 } } }) });
  }
  get text(): string {
    const last = this.messages.at(-1);
    return last?.role === 'assistant' ? last.parts.map((p) => (p.type === 'text' ? p.text : '')).join('') : '';
  }
}

describe('compatible streams across a killed edge', () => {
  it('a background Responses stream cut by SIGKILL of its edge resumes on the other edge after the last sequence number it got', async () => {
    await Promise.all(c.edges.filter((e) => !e.alive).map((e) => e.start()));
    const got: ResponseStreamEvent[] = [];
    const stream = await client(0).responses.create({ model: 'mock', input: 'survive the kill', background: true, stream: true, mock: { intervalMs: 40 }, max_output_tokens: 40 } as OpenAI.Responses.ResponseCreateParamsStreaming);
    const reading = (async () => {
      for await (const e of stream) got.push(e);
    })().catch((e: unknown) => e);
    await waitFor(() => got.filter((e) => e.type === 'response.output_text.delta').length >= 3, 20_000, 'a few deltas');
    await c.edges[0]!.kill('SIGKILL');
    // The body is close-delimited (as the native stream's), so the cut reads as an end without a terminal event.
    await reading;
    expect(got.at(-1)!.type).not.toMatch(/^response\.(completed|incomplete|failed|cancelled)$/);
    const id = (got[0] as { response: { id: string } }).response.id;
    const rest: ResponseStreamEvent[] = [];
    for await (const e of await client(1).responses.retrieve(id, { stream: true, starting_after: got.at(-1)!.sequence_number })) rest.push(e);
    const all = [...got, ...rest];
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    expect(rest.at(-1)!.type).toBe('response.incomplete');
    const text = all.map((e) => (e.type === 'response.output_text.delta' ? e.delta : '')).join('');
    const final = await client(1).responses.retrieve(id);
    expect(final.output_text).toBe(text);
    expect(text.split(' ').length).toBe(40);
  });

  it('a useChat turn whose edge is SIGKILLed is resumed by the reconnect on the other edge, complete', async () => {
    await Promise.all(c.edges.filter((e) => !e.alive).map((e) => e.start()));
    const id = `kill${Date.now().toString(36)}`;
    const tab = new Chat(id, 0);
    const sent = tab.sendMessage({ text: 'survive the kill' });
    await waitFor(() => tab.text.split(' ').length >= 3, 20_000, 'a few words');
    await c.edges[0]!.kill('SIGKILL');
    await sent;
    const cut = tab.text;
    const reloaded = new Chat(id, 1, [tab.messages[0]!]);
    await reloaded.resumeStream();
    expect(reloaded.error).toBeUndefined();
    expect(reloaded.text.split(' ').length).toBe(40);
    expect(reloaded.text.startsWith(cut)).toBe(true);
  });
});
