import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, makeKey } from '../helpers/auth.js';
import { readSse } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * The official `openai` package (unmodified) against two real edges, a real ingest worker, real Redis and
 * the mock model: every call it makes to /openai/v1 and what it makes of the answers.
 */

let sys: TestSystem;
const client = (edge = 0, apiKey = sys.apiKey) => new OpenAI({ apiKey, baseURL: `${sys.edges[edge]!.url}/openai/v1`, maxRetries: 0 });
// `mock` is Relaycast's extension for mock routes; the SDK sends unknown body fields as they are.
const ext = <T>(body: T & { mock?: Record<string, unknown> }) => body as T;

beforeAll(async () => {
  sys = await startSystem({ edges: 2 });
});
afterAll(async () => {
  await sys?.close();
});

/** The same request through the native API: its answer as GET /v1/sessions/:id reports it once done. */
async function native(body: Record<string, unknown>) {
  const s = await sys.create(body, 1);
  const r = await readSse(sys.edges[1]!.url, s.eventsUrl, { timeoutMs: 30_000 });
  expect(r.events.at(-1)?.event).toBe('done');
  const status = await fetch(`${sys.edges[1]!.url}${s.statusUrl}`, { headers: bearer(s.token) });
  return (await status.json()) as { text: string; thinking: string; toolCalls: { id?: string; name?: string; arguments: string }[]; usage: { inputTokens: number; outputTokens: number } };
}

const messages = [{ role: 'user' as const, content: 'compatible please' }];

describe('chat completions', () => {
  it('lists the key’s models in OpenAI’s shape', async () => {
    const page = await client().models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['mock', 'mock-responses', 'mock-anthropic', 'mock-ollama']));
    for (const m of page.data) expect(m).toMatchObject({ object: 'model', owned_by: expect.any(String), created: expect.any(Number) });
    expect(await client().models.retrieve('mock-anthropic')).toMatchObject({ id: 'mock-anthropic', object: 'model', owned_by: 'relaycast:anthropic' });
    await expect(client().models.retrieve('nope')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('streams chunks (role first, finish_reason, usage chunk) with the native answer text; the id and a header name the session', async () => {
    const expected = await native({ model: 'mock', messages, seed: 11, max_tokens: 12 });
    const { data: stream, response } = await client().chat.completions.create({ model: 'mock', messages, seed: 11, max_tokens: 12, stream: true, stream_options: { include_usage: true } }).withResponse();
    const sessionId = response.headers.get('x-relaycast-session-id');
    expect(sessionId).toMatch(/.+/);
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.every((c) => c.id === `chatcmpl-${sessionId}` && c.object === 'chat.completion.chunk')).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(expected.text);
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finish.map((c) => c.choices[0]!.finish_reason)).toEqual(['length']);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: expected.usage.inputTokens, completion_tokens: expected.usage.outputTokens });
    // The native status URL answers for the same generation.
    const status = await fetch(`${sys.edges[1]!.url}/v1/sessions/${sessionId}`, { headers: sys.auth });
    expect(((await status.json()) as { text: string }).text).toBe(expected.text);
  });

  it('the .stream() helper accumulates a final completion', async () => {
    const expected = await native({ model: 'mock', messages, seed: 12 });
    const stream = client(1).chat.completions.stream({ model: 'mock', messages, seed: 12 });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe(expected.text);
    expect(final.choices[0]!.finish_reason).toBe('stop');
  });

  it('without stream answers one chat.completion with usage', async () => {
    const expected = await native({ model: 'mock', messages, seed: 13 });
    const c = await client().chat.completions.create({ model: 'mock', messages, seed: 13 });
    expect(c.object).toBe('chat.completion');
    expect(c.id).toMatch(/^chatcmpl-/);
    expect(c.choices[0]!.message).toMatchObject({ role: 'assistant', content: expected.text });
    expect(c.usage).toMatchObject({ prompt_tokens: expected.usage.inputTokens, completion_tokens: expected.usage.outputTokens });
  });

  it('tool calls arrive in OpenAI’s tool_calls shape, streamed and accumulated', async () => {
    const body = { model: 'mock', messages, mock: { transcript: 'openai-tools.sse' } };
    const expected = await native(body);
    const final = await client().chat.completions.stream(ext({ model: 'mock', messages, mock: { transcript: 'openai-tools.sse' } })).finalChatCompletion();
    const calls = final.choices[0]!.message.tool_calls!;
    expect(calls.map((c) => c.type === 'function' && [c.id, c.function.name, c.function.arguments])).toEqual(expected.toolCalls.map((c) => [c.id, c.name, c.arguments]));
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    const json = await client().chat.completions.create(ext({ model: 'mock', messages, mock: { transcript: 'openai-tools.sse' } }));
    expect(json.choices[0]!.message.tool_calls).toEqual(calls);
  });

  it('reasoning arrives as reasoning_content, apart from the answer', async () => {
    const body = { model: 'mock-anthropic', messages, mock: { transcript: 'anthropic-thinking.sse' } };
    const expected = await native(body);
    expect(expected.thinking.length).toBeGreaterThan(0);
    const stream = await client().chat.completions.create(ext({ ...body, stream: true as const }));
    let reasoning = '';
    let text = '';
    for await (const c of stream) {
      reasoning += (c.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? '';
      text += c.choices[0]?.delta.content ?? '';
    }
    expect(reasoning).toBe(expected.thinking);
    expect(text).toBe(expected.text);
    const json = await client().chat.completions.create(ext(body));
    expect((json.choices[0]!.message as unknown as { reasoning_content: string }).reasoning_content).toBe(expected.thinking);
  });

  it('an upstream failure mid-stream is thrown by the SDK (in-band error frame)', async () => {
    const stream = await client().chat.completions.create(ext({ model: 'mock', messages, stream: true as const, mock: { fault: 'error:3' } }));
    await expect((async () => {
      for await (const _ of stream) void _;
    })()).rejects.toBeInstanceOf(OpenAI.APIError);
  });
});

describe('errors map onto the SDK’s classes', () => {
  it('a wrong key is AuthenticationError, with OpenAI’s error body', async () => {
    const err = await client(0, 'rk_not-a-real-key').models.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
  });

  it('an unknown model is NotFoundError; an unsupported field is BadRequestError naming it', async () => {
    await expect(client().chat.completions.create({ model: 'nope', messages })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const err = await client().chat.completions.create({ model: 'mock', messages, top_p: 0.5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('top_p');
    await expect(client().responses.create({ model: 'mock', input: 'x', tools: [{ type: 'web_search' }] })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('an unknown response id is NotFoundError', async () => {
    await expect(client().responses.retrieve('resp_nothing')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe('limits and refusals in OpenAI’s shape', () => {
  let limited: TestSystem;
  const narrow = makeKey('narrow', 'test', { models: ['mock'] });
  const once = makeKey('once', 'test', { sessionsPerMinute: 1 });
  beforeAll(async () => {
    limited = await startSystem({ keys: [narrow, once], env: { REQUEST_TIMEOUT_MS: '1000' } });
  });
  afterAll(async () => {
    await limited?.close();
  });
  const on = (key: string) => new OpenAI({ apiKey: key, baseURL: `${limited.edges[0]!.url}/openai/v1`, maxRetries: 0 });

  it('a model the key may not use is PermissionDeniedError; the key lists only its models', async () => {
    expect((await on(narrow.key).models.list()).data.map((m) => m.id)).toEqual(['mock']);
    await expect(on(narrow.key).chat.completions.create({ model: 'mock-anthropic', messages })).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  it('the per-key rate limit is RateLimitError with retry-after', async () => {
    await on(once.key).chat.completions.create({ model: 'mock', messages });
    const err = await on(once.key).responses.create({ model: 'mock', input: 'again', background: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(Number((err as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after'))).toBeGreaterThan(0);
  });

  it('bad JSON, unknown fields, an unknown route and a missing key answer OpenAI’s error body', async () => {
    const base = `${limited.edges[0]!.url}/openai/v1`;
    const post = (path: string, body: string, headers: Record<string, string> = limited.auth) => fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const bad = await post('/chat/completions', '{"model":');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { message: 'request body is not valid JSON', type: 'invalid_request_error', param: null, code: 'invalid_json' } });
    const unknown = await post('/responses', JSON.stringify({ model: 'mock', input: 'x', frobnicate: true }));
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: { code: 'unsupported_parameter', param: 'frobnicate', type: 'invalid_request_error' } });
    const tool = await post('/chat/completions', JSON.stringify({ model: 'mock', messages: [{ role: 'tool', content: 'x', tool_call_id: 'c' }] }));
    expect(tool.status).toBe(400);
    const route = await fetch(`${base}/embeddings`, { method: 'POST', headers: limited.auth });
    expect(route.status).toBe(404);
    expect(await route.json()).toMatchObject({ error: { type: 'not_found_error' } });
    const anonymous = await fetch(`${base}/models`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await anonymous.json()).toMatchObject({ error: { type: 'authentication_error', code: 'missing_api_key' } });
  });

  it('an answer in JSON may take longer than the request deadline (it is lifted once the session started)', async () => {
    const slow = ext({ model: 'mock', messages, max_tokens: 8, mock: { intervalMs: 200 } });
    const t0 = Date.now();
    const c = await on(narrow.key).chat.completions.create(slow);
    expect(Date.now() - t0).toBeGreaterThan(1_000);
    expect(c.choices[0]!.message.content!.split(' ')).toHaveLength(8);
    const r = await on(narrow.key).responses.create(ext({ model: 'mock', input: 'slow', max_output_tokens: 8, mock: { intervalMs: 200 } }));
    expect(r.output_text.split(' ')).toHaveLength(8);
  });

  it('an upstream failure ends a Responses stream with response.failed carrying the error', async () => {
    const events: { type: string; response?: { status?: string; error: { code: string } | null } }[] = [];
    for await (const e of await on(narrow.key).responses.create(ext({ model: 'mock', input: 'x', stream: true as const, mock: { fault: 'error:2' } }))) events.push(e);
    const last = events.at(-1)!;
    expect(last.type).toBe('response.failed');
    expect(last.response).toMatchObject({ status: 'failed', error: { code: expect.any(String) } });
  });
});
