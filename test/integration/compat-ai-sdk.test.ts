import { AbstractChat, DefaultChatTransport, type ChatState, type ChatStatus, type UIMessage } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, makeKey } from '../helpers/auth.js';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The `ai` package's DefaultChatTransport and AbstractChat (what `useChat` wraps), unmodified, against two
 * real edges: tabs reading one turn, an aborted tab reconnecting, a reloaded page resuming, stop, auth.
 */

let sys: TestSystem;
const other = makeKey('other', 'other-tenant');

beforeAll(async () => {
  sys = await startSystem({ edges: 2, keys: [other] });
});
afterAll(async () => {
  await sys?.close();
});

/** A plain ChatState, as the framework packages keep one (they only add reactivity). */
class PlainState implements ChatState<UIMessage> {
  status: ChatStatus = 'ready';
  error: Error | undefined = undefined;
  constructor(public messages: UIMessage[] = []) {}
  pushMessage = (m: UIMessage) => void (this.messages = [...this.messages, m]);
  popMessage = () => void (this.messages = this.messages.slice(0, -1));
  replaceMessage = (i: number, m: UIMessage) => void (this.messages = this.messages.map((x, j) => (j === i ? this.snapshot(m) : x)));
  snapshot = <T>(t: T): T => structuredClone(t);
}

class Chat extends AbstractChat<UIMessage> {
  constructor(id: string, edge: number, o: { messages?: UIMessage[]; headers?: Record<string, string>; body?: object } = {}) {
    super({ id, state: new PlainState(o.messages), transport: new DefaultChatTransport({ api: `${sys.edges[edge]!.url}/ai-sdk/chat`, headers: o.headers ?? sys.auth, body: o.body ?? {} }) });
  }
  get text(): string {
    const last = this.messages.at(-1);
    return last?.role === 'assistant' ? last.parts.map((p) => (p.type === 'text' ? p.text : '')).join('') : '';
  }
}

let n = 0;
const chatId = () => `chat${Date.now().toString(36)}${n++}`;

async function nativeText(body: Record<string, unknown>): Promise<string> {
  const s = await sys.create(body, 1);
  await readSse(sys.edges[1]!.url, s.eventsUrl, { timeoutMs: 30_000 });
  const status = await fetch(`${sys.edges[1]!.url}${s.statusUrl}`, { headers: bearer(s.token) });
  return ((await status.json()) as { text: string }).text;
}

const resumeStatus = (edge: number, id: string, headers: Record<string, string> = sys.auth) => fetch(`${sys.edges[edge]!.url}/ai-sdk/chat/${id}/stream`, { headers }).then(async (r) => {
  await r.body?.cancel();
  return r.status;
});

describe('useChat over /ai-sdk/chat', () => {
  it('two tabs, one aborted and reconnected, and a reloaded page all end with the identical assistant message; 204 after the turn', async () => {
    const id = chatId();
    const prompt = 'tell the tabs';
    const body = { model: 'mock', max_tokens: 30, mock: { intervalMs: 40 } };
    const expected = await nativeText({ model: 'mock', max_tokens: 30, messages: [{ role: 'user', content: prompt }] });
    const tab1 = new Chat(id, 0, { body });
    const sent = tab1.sendMessage({ text: prompt });
    await waitFor(() => tab1.text.length > 0, 20_000, 'the first tokens in tab 1');
    const user = tab1.messages[0]!;
    // Tab 2 opens the same chat on the other edge mid-answer.
    const tab2 = new Chat(id, 1, { messages: [user] });
    const read2 = tab2.resumeStream();
    // Tab 1 is aborted (stop(): only its fetch ends) and reconnects.
    await tab1.stop();
    await sent;
    expect(tab1.text.length).toBeGreaterThan(0);
    expect(tab1.text).not.toBe(expected);
    const cut = tab1.text;
    // Tab 1 reconnects, and a reloaded page (a new chat instance with what the app stored: the user's
    // message) resumes, both while the turn still runs.
    const reloaded = new Chat(id, 1, { messages: [user] });
    await Promise.all([read2, tab1.resumeStream(), reloaded.resumeStream()]);
    for (const tab of [tab1, tab2, reloaded]) {
      expect(tab.error).toBeUndefined();
      expect(tab.text).toBe(expected);
      expect(tab.messages.length).toBe(2);
    }
    expect(expected.startsWith(cut)).toBe(true);
    expect(tab1.messages[1]).toEqual(tab2.messages[1]);
    expect(reloaded.messages[1]).toEqual(tab2.messages[1]);
    expect(tab2.messages[1]!.metadata).toMatchObject({ usage: { outputTokens: 30 } });
    expect(await resumeStatus(0, id)).toBe(204);
    expect(await resumeStatus(1, 'never-ran')).toBe(204);
  });

  it('reasoning and tool calls arrive as reasoning and tool parts', async () => {
    const thinking = new Chat(chatId(), 0, { body: { model: 'mock-anthropic', mock: { transcript: 'anthropic-thinking.sse' } } });
    await thinking.sendMessage({ text: 'gcd?' });
    const parts = thinking.messages[1]!.parts;
    expect(parts.filter((p) => p.type === 'reasoning').length).toBe(1);
    expect(thinking.text.length).toBeGreaterThan(0);
    const tools = new Chat(chatId(), 1, { body: { model: 'mock', mock: { transcript: 'openai-tools.sse' } } });
    await tools.sendMessage({ text: 'weather?' });
    const calls = tools.messages[1]!.parts.filter((p) => p.type === 'dynamic-tool');
    expect(calls.map((c) => c.type === 'dynamic-tool' && [c.toolName, c.state, c.input])).toEqual([
      ['get_weather', 'input-available', { location: 'Paris, France' }],
      ['get_time', 'input-available', { tz: 'Europe/Paris' }],
    ]);
  });

  it('stop ends the turn (a disconnect does not); a wrong key is 401; another tenant never gets the stream', async () => {
    const id = chatId();
    const tab = new Chat(id, 0, { body: { model: 'mock', max_tokens: 2_000, mock: { intervalMs: 30 } } });
    const sent = tab.sendMessage({ text: 'long' });
    await waitFor(() => tab.text.length > 0, 20_000, 'the first tokens');
    await tab.stop();
    await sent;
    // Still running after the disconnect: the other edge streams it.
    const other1 = await fetch(`${sys.edges[1]!.url}/ai-sdk/chat/${id}/stream`, { headers: sys.auth });
    expect(other1.status).toBe(200);
    expect(other1.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    await other1.body?.cancel();
    expect(await resumeStatus(1, id, other.headers)).toBe(404);
    const stop = await fetch(`${sys.edges[1]!.url}/ai-sdk/chat/${id}/stop`, { method: 'POST', headers: sys.auth });
    expect(stop.status).toBe(202);
    await waitFor(async () => (await resumeStatus(0, id)) === 204, 10_000, 'the stopped turn to end');
    const wrong = new Chat(chatId(), 0, { headers: { authorization: 'Bearer rk_wrong' } });
    await wrong.sendMessage({ text: 'hi' });
    expect(wrong.status).toBe('error');
    expect(wrong.error?.message).toContain('unauthorized');
    const res = await fetch(`${sys.edges[0]!.url}/ai-sdk/chat`, { method: 'POST', headers: { authorization: 'Bearer rk_wrong', 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
  });

  it('another tenant’s chat id is 404 chat_not_found for stream, post, stop and token; the owner’s turn goes on; an own never-run chat is 204', async () => {
    const id = chatId();
    const owner = new Chat(id, 0, { body: { model: 'mock', max_tokens: 40, mock: { intervalMs: 25 } } });
    const sent = owner.sendMessage({ text: 'mine' });
    await waitFor(() => owner.text.length > 0, 20_000, 'the first tokens');
    const notFound = async (r: Response) => {
      expect(r.status).toBe(404);
      expect(await r.json()).toEqual({ error: { code: 'chat_not_found', message: 'no such chat' } });
    };
    const base = `${sys.edges[1]!.url}/ai-sdk/chat`;
    const json = { ...other.headers, 'content-type': 'application/json' };
    await notFound(await fetch(`${base}/${id}/stream`, { headers: other.headers }));
    await notFound(await fetch(`${base}/${id}/stop`, { method: 'POST', headers: other.headers }));
    await notFound(await fetch(`${base}/${id}/token`, { method: 'POST', headers: other.headers }));
    await notFound(await fetch(base, { method: 'POST', headers: json, body: JSON.stringify({ id, messages: [{ id: 'u', role: 'user', parts: [{ type: 'text', text: 'theirs?' }] }], model: 'mock' }) }));
    // The AI SDK's own transport: its reconnect and its send both fail, neither streams the owner's turn.
    const transport = new DefaultChatTransport<UIMessage>({ api: base, headers: other.headers });
    await expect(transport.reconnectToStream({ chatId: id })).rejects.toThrow(/chat_not_found/);
    const intruder = new Chat(id, 1, { headers: other.headers, body: { model: 'mock' } });
    await intruder.sendMessage({ text: 'theirs?' });
    expect(intruder.status).toBe('error');
    expect(intruder.error?.message).toContain('chat_not_found');
    expect(intruder.text).toBe('');
    // The owner is untouched: still streaming on the other edge, and its turn ends whole.
    const mid = await fetch(`${base}/${id}/stream`, { headers: sys.auth });
    expect(mid.status).toBe(200);
    await mid.body?.cancel();
    await sent;
    expect(owner.error).toBeUndefined();
    expect(owner.text.split(' ')).toHaveLength(40);
    expect(await resumeStatus(0, id)).toBe(204);
    expect(await resumeStatus(1, id, other.headers)).toBe(404);
    expect(await resumeStatus(1, chatId(), other.headers)).toBe(204);
  });

  it('a browser token minted for one chat resumes that chat only', async () => {
    const id = chatId();
    const mint = await fetch(`${sys.edges[0]!.url}/ai-sdk/chat/${id}/token`, { method: 'POST', headers: sys.auth });
    const { token } = (await mint.json()) as { token: string };
    const tab = new Chat(id, 0, { headers: bearer(token), body: { model: 'mock', max_tokens: 8, mock: { intervalMs: 20 } } });
    const sent = tab.sendMessage({ text: 'with a token' });
    await waitFor(() => tab.text.length > 0, 20_000, 'the first tokens');
    const reloaded = new Chat(id, 1, { headers: bearer(token), messages: [tab.messages[0]!] });
    await Promise.all([sent, reloaded.resumeStream()]);
    expect(reloaded.text).toBe(tab.text);
    expect(await resumeStatus(0, `${id}x`, bearer(token))).toBe(403);
    const forged = await fetch(`${sys.edges[0]!.url}/ai-sdk/chat/${id}x/token`, { method: 'POST', headers: bearer(token) });
    expect(forged.status).toBe(403);
  });
});
