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
