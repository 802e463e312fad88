import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRoutes } from '@relaycast/shared';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { bearer } from '../helpers/auth.js';
import { readSse, type ReceivedEvent } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * A request's `stop` sequences through the whole path (edge -> BullMQ -> ingest -> mock model -> Redis ->
 * SSE), on the native API, the OpenAI-compatible chat (the official `openai` package) and the AI SDK
 * chat. Where the provider has a stop field the mock model ends its own answer, as the real servers do;
 * where it has none (Responses, a plain SSE source) ingest's per-session stop processor ends it.
 */

const PROMPT = 'a story about stop sequences';
const SEED = 21;
const N = 200;
const TOKENS = tokensFor(PROMPT, SEED, N);
const STORY = TOKENS.join('');
// Starts inside token 20 and ends inside token 22: split across three deltas, and across token edges.
const STOP = TOKENS[20]!.slice(-2) + TOKENS[21] + TOKENS[22]!.slice(0, 2);
const BEFORE = STORY.slice(0, STORY.indexOf(STOP));

let sys: TestSystem;
beforeAll(async () => {
  sys = await startSystem({
    edges: 1,
    routes: (url) => ({
      ...defaultRoutes(url),
      // A plain SSE source whose body template sends the request's sequences ({{stop}}).
      'sse-stop': { provider: 'sse', baseUrl: url, path: 'v1/sse', allowMock: true, sse: { method: 'POST', textPath: 'text', doneData: '[DONE]', body: { messages: '{{messages}}', max_tokens: '{{max_tokens}}', stop: '{{stop}}', stream: true } } },
    }),
  });
});
afterAll(async () => {
  await sys?.close();
});

const edge = () => sys.edges[0]!.url;
const dataOf = (e: ReceivedEvent) => JSON.parse(e.data) as Record<string, any>;
const textOf = (events: ReceivedEvent[]) => events.filter((e) => e.event === 'delta').map((e) => dataOf(e).text as string).join('');
const ask = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: PROMPT }], seed: SEED, max_tokens: N, ...extra });
const aborts = async () => ((await (await fetch(`${sys.mockUrl}/v1/mock/stats`)).json()) as { clientAborts: number }).clientAborts;

async function native(body: Record<string, unknown>) {
  const s = await sys.create(body);
  const r = await readSse(edge(), s.eventsUrl, { timeoutMs: 30_000 });
  const status = (await (await fetch(edge() + s.statusUrl, { headers: bearer(s.token) })).json()) as { text: string; finishReason: string };
  return { text: textOf(r.events), last: r.events.at(-1)!, status };
}

/** The mock counts a stream whose client went away once the socket closes: poll for it with a deadline. */
async function abortsReach(n: number) {
  const deadline = Date.now() + 5_000;
  while ((await aborts()) < n) {
    if (Date.now() > deadline) throw new Error(`the mock saw ${await aborts()} aborted streams, expected ${n}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('the chosen sequence is in the answer, starting mid-token, and not before', () => {
  expect(STOP).toHaveLength(TOKENS[21]!.length + 4);
  expect(BEFORE.length).toBeGreaterThan(TOKENS.slice(0, 20).join('').length);
  expect(BEFORE.length).toBeLessThan(TOKENS.slice(0, 21).join('').length);
});

describe('native POST /v1/sessions with stop', () => {
  // The provider's own field: the mock model ends the answer itself (its usage is real, nothing aborted).
  it.each(['mock', 'mock-anthropic', 'mock-ollama', 'sse-stop'])('%s: the upstream ends before the sequence, finish stop', async (model) => {
    const before = await aborts();
    const { text, last, status } = await native(ask(model, { stop: [STOP, 'never in the text'] }));
    expect(text).toBe(BEFORE);
    expect(last.event).toBe('done');
    expect(dataOf(last).finishReason).toBe('stop');
    // A plain SSE source never reports usage; the others counted the tokens they sent.
    expect(dataOf(last).usage.estimated).toBe(model === 'sse-stop');
    expect(status).toMatchObject({ text: BEFORE, finishReason: 'stop' });
    expect(await aborts()).toBe(before);
  });

  // No stop field upstream: the session's stop processor finds the sequence split across deltas, ends the
  // answer, and aborts the upstream request (no more tokens paid for).
  it.each(['mock-responses', 'mock-sse'])('%s: the stop processor ends the answer before the sequence and aborts the upstream', async (model) => {
    const before = await aborts();
    const { text, last } = await native(ask(model, { stop: STOP, mock: { intervalMs: 3 } }));
    expect(text).toBe(BEFORE);
    expect(dataOf(last)).toMatchObject({ finishReason: 'stop', usage: { estimated: true } });
    await abortsReach(before + 1);
  });

  it('a sequence that never comes changes nothing', async () => {
    const { text, last } = await native(ask('mock-responses', { max_tokens: 12, stop: ['zzz'] }));
    expect(text).toBe(TOKENS.slice(0, 12).join(''));
    expect(dataOf(last).finishReason).toBe('length');
  });

  it('bad values are 400 invalid_request naming stop', async () => {
    const bad: unknown[] = ['', ['a', 'b', 'c', 'd', 'e'], [''], 'x'.repeat(1_001), 7, [7], null];
    for (const stop of bad) {
      const r = await fetch(`${edge()}/v1/sessions`, { method: 'POST', headers: { ...sys.auth, 'content-type': 'application/json' }, body: JSON.stringify(ask('mock', { stop })) });
      expect(r.status, JSON.stringify(stop)).toBe(400);
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.message).toMatch(/^stop/);
    }
    const ok = await fetch(`${edge()}/v1/sessions`, { method: 'POST', headers: { ...sys.auth, 'content-type': 'application/json' }, body: JSON.stringify(ask('mock', { stop: ['a', 'b', 'c', 'x'.repeat(1_000)] })) });
    expect(ok.status).toBe(201);
  });
});

describe('OpenAI-compatible chat with stop (the official openai package)', () => {
  const client = () => new OpenAI({ apiKey: sys.apiKey, baseURL: `${edge()}/openai/v1`, maxRetries: 0 });
  const messages = [{ role: 'user' as const, content: PROMPT }];

  it('streamed: ends before the sequence with finish_reason stop, the native answer', async () => {
    const nat = await native(ask('mock', { stop: [STOP] }));
    const stream = await client().chat.completions.create({ model: 'mock', messages, seed: SEED, max_tokens: N, stop: STOP, stream: true });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(nat.text);
    expect(nat.text).toBe(BEFORE);
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0]!.finish_reason)).toEqual(['stop']);
  });

  it('as JSON: the same text, finish_reason stop; on a route with no stop field too', async () => {
    for (const model of ['mock', 'mock-responses']) {
      const c = await client().chat.completions.create({ model, messages, seed: SEED, max_tokens: N, stop: [STOP, 'never in the text'] });
      expect(c.choices[0]!.message.content).toBe(BEFORE);
      expect(c.choices[0]!.finish_reason).toBe('stop');
    }
  });

  it('stop: null and [] are no stop; more than 4 is BadRequestError naming stop; Responses has no stop field', async () => {
    const none = await client().chat.completions.create({ model: 'mock', messages, seed: SEED, max_tokens: 30, stop: null });
    expect(none.choices[0]!.message.content).toBe(TOKENS.slice(0, 30).join(''));
    const empty = await client().chat.completions.create({ model: 'mock', messages, seed: SEED, max_tokens: 30, stop: [] });
    expect(empty.choices[0]!.finish_reason).toBe('length');
    const err = await client().chat.completions.create({ model: 'mock', messages, stop: ['a', 'b', 'c', 'd', 'e'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('stop');
    const responses = await client().responses.create({ model: 'mock', input: 'x', stop: 'x' } as never).catch((e: unknown) => e);
    expect(responses).toBeInstanceOf(OpenAI.BadRequestError);
    expect((responses as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('stop');
  });
});

describe('AI SDK chat with stop', () => {
  it('the body’s stop ends the turn’s text before the sequence, finish stop', async () => {
    const r = await fetch(`${edge()}/ai-sdk/chat`, {
      method: 'POST',
      headers: { ...sys.auth, 'content-type': 'application/json' },
      body: JSON.stringify({ id: `stop${Date.now().toString(36)}`, messages: [{ id: 'u1', role: 'user', parts: [{ type: 'text', text: PROMPT }] }], trigger: 'submit-message', model: 'mock-ollama', seed: SEED, max_tokens: N, stop: [STOP] }),
    });
    expect(r.status).toBe(200);
    const chunks = (await r.text()).split('\n\n').filter((f) => f.startsWith('data: {')).map((f) => JSON.parse(f.slice(6)) as { type: string; delta?: string; finishReason?: string });
    expect(chunks.filter((c) => c.type === 'text-delta').map((c) => c.delta).join('')).toBe(BEFORE);
    expect(chunks.at(-1)).toMatchObject({ type: 'finish', finishReason: 'stop' });
  });
});
