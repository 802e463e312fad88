import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TRANSCRIPT_DIR, startMockModel, tokensFor, type MockModel } from '../../services/mock-model/src/index.js';

let mock: MockModel;
beforeAll(async () => {
  mock = await startMockModel({ port: 0 });
});
afterAll(() => mock.close());

const chat = (body: Record<string, unknown>) =>
  fetch(`${mock.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi there' }], stream: true, ...body }) });
const dataLines = (text: string) => text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));

describe('mock model (OpenAI wire format)', () => {
  it('streams max_tokens content chunks, a finish chunk, usage on request, then [DONE]', async () => {
    const res = await chat({ max_tokens: 5, seed: 3, stream_options: { include_usage: true } });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const lines = dataLines(await res.text());
    expect(lines.at(-1)).toBe('[DONE]');
    const chunks = lines.slice(0, -1).map((l) => JSON.parse(l));
    const content = chunks.map((c) => c.choices[0]?.delta?.content).filter((c) => c);
    expect(content).toEqual(tokensFor('hi there', 3, 5));
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason).toBe('length');
    expect(chunks.at(-1).usage).toEqual({ prompt_tokens: 2, completion_tokens: 5, total_tokens: 7 });
  });

  it('is deterministic in prompt and seed', async () => {
    expect(tokensFor('p', 1, 20)).toEqual(tokensFor('p', 1, 20));
    expect(tokensFor('p', 1, 20)).not.toEqual(tokensFor('p', 2, 20));
    const plain = dataLines(await (await chat({})).text());
    expect(plain.some((l) => l.includes('"usage"'))).toBe(false);
    expect(plain.filter((l) => l.includes('"content":"') && !l.includes('"content":""'))).toHaveLength(16);
  });

  it('replays a recorded transcript byte for byte', async () => {
    const res = await chat({ mock: { transcript: 'openai-basic.sse' } });
    expect(Buffer.from(await res.arrayBuffer())).toEqual(readFileSync(join(DEFAULT_TRANSCRIPT_DIR, 'openai-basic.sse')));
  });

  it('fails with the requested status before any chunk', async () => {
    const res = await chat({ mock: { fault: 'status:429' } });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('1');
  });

  it('rejects non-streaming requests, bad faults, bad transcript names and unknown paths', async () => {
    expect((await chat({ stream: false })).status).toBe(400);
    expect((await chat({ mock: { fault: 'explode:1' } })).status).toBe(400);
    expect((await chat({ mock: { transcript: '../package.json' } })).status).toBe(400);
    expect((await chat({ mock: { transcript: 'missing.sse' } })).status).toBe(404);
    expect((await fetch(`${mock.url}/nope`)).status).toBe(404);
  });
});

describe('mock model: every wire format, with faults in each format’s own shape', () => {
  const post = (path: string, body: Record<string, unknown>) => fetch(`${mock.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const msgs = [{ role: 'user', content: 'hi there' }];
  const FORMATS = [
    { path: '/v1/chat/completions', body: { messages: msgs, stream: true, max_tokens: 3, seed: 4 }, text: (raw: string) => dataLines(raw).filter((l) => l !== '[DONE]').map((l) => JSON.parse(l).choices[0]?.delta?.content ?? '').join('') },
    { path: '/v1/responses', body: { input: msgs, stream: true, max_output_tokens: 3, mock: { seed: 4 } }, text: (raw: string) => dataLines(raw).map((l) => JSON.parse(l)).filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('') },
    { path: '/v1/messages', body: { messages: msgs, stream: true, max_tokens: 3, mock: { seed: 4 } }, text: (raw: string) => dataLines(raw).map((l) => JSON.parse(l)).filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join('') },
    { path: '/api/chat', body: { messages: msgs, options: { num_predict: 3, seed: 4 } }, text: (raw: string) => raw.trim().split('\n').map((l) => JSON.parse(l)).map((l) => l.message?.content ?? '').join('') },
    { path: '/v1/sse', body: { messages: msgs, max_tokens: 3, seed: 4 }, text: (raw: string) => dataLines(raw).filter((l) => l !== '[DONE]').map((l) => JSON.parse(l).text).join('') },
  ];

  it.each(FORMATS)('$path streams the same deterministic text', async ({ path, body, text }) => {
    const res = await post(path, body);
    expect(res.status).toBe(200);
    expect(text(await res.text())).toBe(tokensFor('hi there', 4, 3).join(''));
  });

  it('HTTP errors come in each provider’s JSON shape', async () => {
    const status = async (path: string, body: Record<string, unknown>, code: number) => {
      const res = await post(path, { ...body, mock: { fault: `status:${code}` } });
      expect(res.status).toBe(code);
      return res.json();
    };
    expect(await status('/v1/messages', FORMATS[2]!.body, 529)).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'mock fault status 529' } });
    expect(await status('/v1/messages', FORMATS[2]!.body, 429)).toMatchObject({ error: { type: 'rate_limit_error' } });
    expect(await status('/api/chat', FORMATS[3]!.body, 500)).toEqual({ error: 'mock fault status 500' });
    expect(await status('/v1/responses', FORMATS[1]!.body, 503)).toMatchObject({ error: { type: 'server_error', message: 'mock fault status 503' } });
    expect((await post('/v1/messages', { messages: msgs, stream: true })).status).toBe(400);
  });

  it('in-band errors come in each format’s own shape, after token n (0: before the first)', async () => {
    const raw = async (i: number, n: number) => (await post(FORMATS[i]!.path, { ...FORMATS[i]!.body, mock: { fault: `error:${n}` } })).text();
    expect(await raw(2, 1)).toMatch(/text_delta[\s\S]*event: error\ndata: \{"type":"error","error":\{"type":"overloaded_error","message":"Overloaded"\}\}\n\n$/);
    expect(await raw(2, 0)).not.toContain('text_delta');
    expect((await raw(3, 2)).trim().split('\n').at(-1)).toBe('{"error":"mock in-band error"}');
    // Nested, as OpenAI sends it (the official SDK throws on this shape, not on a flat one), then response.failed.
    expect(await raw(1, 1)).toMatch(/event: error\ndata: \{"type":"error","sequence_number":\d+,"error":\{"type":"server_error","code":"server_error","message":"mock in-band error","param":null\}\}\n\nevent: response.failed\n/);
  });

  it('counts requests per path and streams whose client went away', async () => {
    const before = (await (await fetch(`${mock.url}/v1/mock/stats`)).json()) as { byPath: Record<string, number>; clientAborts: number };
    await (await post('/api/chat', FORMATS[3]!.body)).text();
    const res = await post('/v1/sse', { ...FORMATS[4]!.body, max_tokens: 1000, mock: { intervalMs: 20 } });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    const deadline = Date.now() + 5_000;
    let after = before;
    while (after.clientAborts === before.clientAborts && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      after = (await (await fetch(`${mock.url}/v1/mock/stats`)).json()) as typeof before;
    }
    expect(after.byPath['/api/chat']).toBe(before.byPath['/api/chat']! + 1);
    expect(after.byPath['/v1/sse']).toBe(before.byPath['/v1/sse']! + 1);
    expect(after.clientAborts).toBe(before.clientAborts + 1);
  });
});
