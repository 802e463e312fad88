import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { trimStart } from '../../docs/examples/trim-start.js';
import { readSse, type ReceivedEvent } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

// Processors and fallbacks through the whole path (edge -> BullMQ -> ingest -> mock model -> Redis -> SSE).
const PROMPT = 'tell me a story';
const STORY = tokensFor(PROMPT, 7, 2000).join('');
// Three tokens from the middle of the answer: a stop sequence that arrives split across deltas.
const STOP = tokensFor(PROMPT, 7, 40).slice(30, 33).join('');

let sys: TestSystem;
beforeAll(async () => {
  sys = await startSystem({
    edges: 1,
    // Far beyond the test's deadline: only a route's own idle timeout can end a stalled stream in time.
    env: { UPSTREAM_IDLE_TIMEOUT_MS: '120000' },
    ingest: { processors: [trimStart] },
    routes: (mockUrl) => {
      const mock = (provider: string, extra: Record<string, unknown> = {}) => ({ provider, baseUrl: mockUrl, model: 'mock-1', ...extra });
      return {
        mock: mock('openai', { allowMock: true }),
        'mock-anthropic': mock('anthropic', { allowMock: true }),
        'mock-ollama': mock('ollama', { allowMock: true }),
        stopping: mock('openai', { allowMock: true, processors: [{ type: 'stop', sequences: [STOP, 'never-in-the-text'] }] }),
        redacting: mock('openai', { allowMock: true, processors: [{ type: 'redact', builtins: ['email', 'keys'] }] }),
        trimmed: mock('openai', { allowMock: true, processors: [{ type: 'trim-start' }, { type: 'redact', builtins: ['email'] }] }),
        capped: mock('openai', { allowMock: true, processors: [{ type: 'max-output', maxChars: 40 }] }),
        impatient: mock('ollama', { allowMock: true, timeouts: { idleMs: 300 } }),
        // Routes that fail by configuration (the route's own body carries the mock fault), each with a fallback.
        'overloaded-first': mock('anthropic', { body: { mock: { fault: 'error:0' } }, attempts: 2, fallbacks: ['mock'] }),
        'down-first': mock('openai', { body: { mock: { fault: 'status:503' } }, fallbacks: ['mock-anthropic'] }),
        'rejects-first': mock('ollama', { body: { mock: { fault: 'status:400' } }, attempts: 3, fallbacks: ['mock'] }),
        'drops-mid-stream': mock('anthropic', { body: { mock: { fault: 'drop:3', intervalMs: 5 } }, fallbacks: ['mock-ollama'] }),
      };
    },
  });
});
afterAll(async () => {
  await sys?.close();
});

const dataOf = (e: ReceivedEvent) => JSON.parse(e.data) as Record<string, any>;
const textOf = (events: ReceivedEvent[]) => events.filter((e) => e.event === 'delta').map((e) => dataOf(e).text as string).join('');
const stats = async () => (await (await fetch(`${sys.mockUrl}/v1/mock/stats`)).json()) as { clientAborts: number; byPath: Record<string, number> };
async function session(body: Record<string, unknown>) {
  const s = await sys.create({ messages: [{ role: 'user', content: PROMPT }], seed: 7, ...body });
  const r = await readSse(sys.edges[0]!.url, s.eventsUrl);
  return { events: r.events, last: r.events.at(-1)!, text: textOf(r.events) };
}
/** The mock counts a stream whose client went away once the socket closes: poll for it with a deadline. */
async function abortsReach(n: number) {
  const deadline = Date.now() + 5_000;
  while ((await stats()).clientAborts < n) {
    if (Date.now() > deadline) throw new Error(`the mock saw ${(await stats()).clientAborts} aborted streams, expected ${n}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('stop sequences', () => {
  it('a sequence split across deltas ends the answer before it with done stop, and the upstream request is aborted', async () => {
    expect(STORY.indexOf(STOP)).toBeGreaterThan(0);
    const aborts = (await stats()).clientAborts;
    const { events, last, text } = await session({ model: 'stopping', max_tokens: 2000, mock: { intervalMs: 3 } });
    expect(text).toBe(STORY.slice(0, STORY.indexOf(STOP)));
    expect(last.event).toBe('done');
    expect(dataOf(last).finishReason).toBe('stop');
    // The upstream never reported usage (it was cut off): estimated, and marked so.
    expect(dataOf(last).usage.estimated).toBe(true);
    expect(events.filter((e) => e.event === 'done')).toHaveLength(1);
    // No more tokens paid for: the model saw its client go away long before its 2,000 tokens.
    await abortsReach(aborts + 1);
  });
});

describe('redaction', () => {
  it('an e-mail address split across three deltas never reaches a subscriber', async () => {
    const { events, text } = await session({ model: 'redacting', mock: { transcript: 'openai-pii.sse', intervalMs: 5 } });
    expect(text).toBe('\n\nMail [email] now');
    for (const e of events) for (const fragment of ['alice', '.sm', 'ith@', 'exam', 'ple.org']) expect(e.data).not.toContain(fragment);
  });

  it('the documented example processor, plugged into ingest, runs in a route’s pipeline before redaction', async () => {
    const { text, last } = await session({ model: 'trimmed', mock: { transcript: 'openai-pii.sse' } });
    expect(text).toBe('Mail [email] now');
    expect(dataOf(last).finishReason).toBe('stop');
  });
});

describe('max-output guard', () => {
  it('cuts at the cap, ends with done length, and aborts the upstream request', async () => {
    const aborts = (await stats()).clientAborts;
    const { last, text } = await session({ model: 'capped', max_tokens: 2000, mock: { intervalMs: 2 } });
    expect(text).toBe(STORY.slice(0, 40));
    expect(dataOf(last)).toMatchObject({ finishReason: 'length', usage: { estimated: true } });
    await abortsReach(aborts + 1);
  });
});

describe('per-route timeouts', () => {
  it('a route’s idleMs overrides UPSTREAM_IDLE_TIMEOUT_MS', async () => {
    const { last, text } = await session({ model: 'impatient', max_tokens: 10, mock: { fault: 'stall:2' } });
    expect(text).toBe(tokensFor(PROMPT, 7, 2).join(''));
    expect(dataOf(last)).toMatchObject({ code: 'upstream_timeout' });
  });
});

describe('fallbacks', () => {
  it('before the first token: an in-band overload, retried, then the fallback answers; nothing of the first is seen', async () => {
    const before = await stats();
    const { events, last, text } = await session({ model: 'overloaded-first', max_tokens: 20 });
    const after = await stats();
    expect(after.byPath['/v1/messages']! - before.byPath['/v1/messages']!).toBe(2);
    expect(after.byPath['/v1/chat/completions']! - before.byPath['/v1/chat/completions']!).toBe(1);
    expect(text).toBe(tokensFor(PROMPT, 7, 20).join(''));
    // Only the fallback's stream: its deltas, usage and done. No error, no reset, no partial text.
    expect(new Set(events.map((e) => e.event))).toEqual(new Set(['delta', 'usage', 'done']));
    expect(dataOf(last)).toMatchObject({ finishReason: 'length', usage: { outputTokens: 20, estimated: false } });
  });

  it('before the first token: HTTP 503 after its retries falls back to another provider (Anthropic format)', async () => {
    const before = await stats();
    const { text, last } = await session({ model: 'down-first', max_tokens: 8 });
    const after = await stats();
    expect(after.byPath['/v1/chat/completions']! - before.byPath['/v1/chat/completions']!).toBe(sys.cfg.UPSTREAM_MAX_ATTEMPTS);
    expect(after.byPath['/v1/messages']! - before.byPath['/v1/messages']!).toBe(1);
    expect(text).toBe(tokensFor(PROMPT, 7, 8).join(''));
    expect(last.event).toBe('done');
  });

  it('an error retrying cannot fix (HTTP 400) falls back at once, without the route’s retries', async () => {
    const before = await stats();
    const { text } = await session({ model: 'rejects-first', max_tokens: 5 });
    const after = await stats();
    expect(after.byPath['/api/chat']! - before.byPath['/api/chat']!).toBe(1);
    expect(text).toBe(tokensFor(PROMPT, 7, 5).join(''));
  });

  it('never after the first token: a drop mid-stream is an error event and the fallback is never called', async () => {
    const before = await stats();
    const { events, last } = await session({ model: 'drops-mid-stream', max_tokens: 20 });
    const after = await stats();
    expect(events.filter((e) => e.event === 'delta').length).toBeGreaterThan(0);
    expect(last.event).toBe('error');
    expect(dataOf(last).code).toBe('upstream_network');
    expect(after.byPath['/v1/messages']! - before.byPath['/v1/messages']!).toBe(1);
    expect(after.byPath['/api/chat']).toBe(before.byPath['/api/chat']);
  });
});
