import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, makeKey } from '../helpers/auth.js';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * The Responses API through the official `openai` package: background mode, resume with starting_after from
 * another edge, retrieve, cancel, and the plain (non-background) stream; two real edges, real Redis, a real
 * ingest worker and the mock model.
 */

let sys: TestSystem;
const other = makeKey('other', 'other-tenant');
const client = (edge = 0, apiKey = sys.apiKey) => new OpenAI({ apiKey, baseURL: `${sys.edges[edge]!.url}/openai/v1`, maxRetries: 0 });
const ext = <T>(body: T & { mock?: Record<string, unknown>; seed?: number }) => body as T;

beforeAll(async () => {
  sys = await startSystem({ edges: 2, keys: [other] });
});
afterAll(async () => {
  await sys?.close();
});

async function native(body: Record<string, unknown>) {
  const s = await sys.create(body, 1);
  await readSse(sys.edges[1]!.url, s.eventsUrl, { timeoutMs: 30_000 });
  const status = await fetch(`${sys.edges[1]!.url}${s.statusUrl}`, { headers: bearer(s.token) });
  return (await status.json()) as { text: string; thinking: string; toolCalls: { id?: string; name?: string; arguments: string }[]; usage: { inputTokens: number; outputTokens: number } };
}

const deltas = (events: ResponseStreamEvent[]) => events.map((e) => (e.type === 'response.output_text.delta' ? e.delta : '')).join('');
const seqs = (events: ResponseStreamEvent[]) => events.map((e) => e.sequence_number);
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('background responses', () => {
  it('a stream broken after a few events resumes on another edge with starting_after: consecutive numbers, the same text as retrieve and as the native API', async () => {
    const input = 'resume me elsewhere';
    const expected = await native({ model: 'mock', messages: [{ role: 'user', content: input }] });
    const first: ResponseStreamEvent[] = [];
    const stream = await client(0).responses.create(ext({ model: 'mock', input, background: true, stream: true as const, mock: { intervalMs: 15 } }));
    for await (const e of stream) {
      first.push(e);
      if (first.length === 7) break; // the SDK aborts the request: the edge sees a disconnect
    }
    expect(first.map((e) => e.type).slice(0, 2)).toEqual(['response.created', 'response.in_progress']);
    const id = (first[0] as { response: { id: string } }).response.id;
    expect(id).toMatch(/^resp_/);
    const last = first.at(-1)!.sequence_number;
    const rest: ResponseStreamEvent[] = [];
    for await (const e of await client(1).responses.retrieve(id, { stream: true, starting_after: last })) rest.push(e);
    const all = [...first, ...rest];
    expect(seqs(all)).toEqual(range(0, all.length));
    expect(rest.at(-1)!.type).toBe('response.completed');
    const text = deltas(all);
    expect(text).toBe(expected.text);
    const done = await client(1).responses.retrieve(id);
    expect(done.status).toBe('completed');
    expect(done.background).toBe(true);
    expect(done.output_text).toBe(text);
    expect(done.usage).toMatchObject({ input_tokens: expected.usage.inputTokens, output_tokens: expected.usage.outputTokens });
    // The whole stream again from the start is the same events.
    const again: ResponseStreamEvent[] = [];
    for await (const e of await client(0).responses.retrieve(id, { stream: true })) again.push(e);
    expect(again.map((e) => JSON.stringify(e))).toEqual(all.map((e) => JSON.stringify(e)));
  });

  it('without stream it answers the queued Response at once; the stream and the Response follow it to completion', async () => {
    const r = await client().responses.create(ext({ model: 'mock', input: 'later', background: true, mock: { intervalMs: 5 } }));
    expect(['queued', 'in_progress']).toContain(r.status);
    const events: ResponseStreamEvent[] = [];
    for await (const e of await client(1).responses.retrieve(r.id, { stream: true })) events.push(e);
    expect(events.at(-1)!.type).toBe('response.completed');
    expect((await client(0).responses.retrieve(r.id)).output_text).toBe(deltas(events));
  });

  it('cancel stops the upstream and the Response ends cancelled within 3 s', async () => {
    const r = await client().responses.create(ext({ model: 'mock', input: 'long one', background: true, max_output_tokens: 2_000, mock: { intervalMs: 50 } }));
    // Wait for generated text before cancelling, so the running worker (not the queue) is what stops.
    for await (const e of await client(1).responses.retrieve(r.id, { stream: true })) if (e.type === 'response.output_text.delta') break;
    const t0 = Date.now();
    const cancelled = await client(1).responses.cancel(r.id);
    expect(cancelled.status).toBe('cancelled');
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect((await client(0).responses.retrieve(r.id)).status).toBe('cancelled');
    const events: ResponseStreamEvent[] = [];
    for await (const e of await client(0).responses.retrieve(r.id, { stream: true })) events.push(e);
    expect(events.at(-1)!.type).toBe('response.cancelled');
  });

  it('another tenant’s response is unknown to it (404), for retrieve, stream and cancel', async () => {
    const r = await client().responses.create(ext({ model: 'mock', input: 'mine', background: true }));
    const theirs = client(1, other.key);
    await expect(theirs.responses.retrieve(r.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(theirs.responses.retrieve(r.id, { stream: true })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(theirs.responses.cancel(r.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe('responses without background', () => {
  it('streams the Responses events; the SDK’s stream helper accumulates the final Response', async () => {
    const expected = await native({ model: 'mock', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }] });
    const final = await client().responses.stream({ model: 'mock', instructions: 'be brief', input: 'hi' }).finalResponse();
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe(expected.text);
    expect(final.instructions).toBe('be brief');
  });

  it('without stream answers the completed Response', async () => {
    const expected = await native({ model: 'mock', messages: [{ role: 'user', content: 'plain' }], max_tokens: 5 });
    const r = await client().responses.create({ model: 'mock', input: [{ role: 'user', content: 'plain' }], max_output_tokens: 5 });
    expect(r.status).toBe('incomplete');
    expect(r.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(r.output_text).toBe(expected.text);
  });

  it('tool calls are function_call items; reasoning is a reasoning item', async () => {
    const tools = await native({ model: 'mock', messages: [{ role: 'user', content: 'x' }], mock: { transcript: 'openai-tools.sse' } });
    const r = await client().responses.create(ext({ model: 'mock', input: 'x', mock: { transcript: 'openai-tools.sse' } }));
    const calls = r.output.filter((o) => o.type === 'function_call');
    expect(calls.map((c) => c.type === 'function_call' && [c.call_id, c.name, c.arguments])).toEqual(tools.toolCalls.map((c) => [c.id, c.name, c.arguments]));
    const thinking = await native({ model: 'mock-anthropic', messages: [{ role: 'user', content: 'x' }], mock: { transcript: 'anthropic-thinking.sse' } });
    const events: ResponseStreamEvent[] = [];
    for await (const e of await client().responses.create(ext({ model: 'mock-anthropic', input: 'x', stream: true as const, mock: { transcript: 'anthropic-thinking.sse' } }))) events.push(e);
    const reasoning = events.map((e) => (e.type === 'response.reasoning_text.delta' ? e.delta : '')).join('');
    expect(reasoning).toBe(thinking.thinking);
    expect(deltas(events)).toBe(thinking.text);
    const done = events.at(-1) as { type: string; response: OpenAI.Responses.Response };
    expect(done.response.output.map((o) => o.type)).toEqual(['reasoning', 'message']);
    expect(done.response.usage?.output_tokens).toBe(thinking.usage.outputTokens);
  });
});
