import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderName } from '@relaycast/shared';
import { mockExpectation, mockPlan, startMockModel, type MockModel, type MockShape } from '../../services/mock-model/src/index.js';
import { decodeChunks, firstBadSplit, providerRoute, reassemble } from '../helpers/provider-decode.js';

// The mock's generated streams (issue 16: reasoning parts, several blocks, parallel calls, noise) read by
// ingest's real body path, whole and split at every byte: what the mock sends is what ingest understands.
let mock: MockModel;
beforeAll(async () => {
  mock = await startMockModel({ port: 0 });
});
afterAll(() => mock?.close());

const PROMPT = 'hi there';
const messages = [{ role: 'user', content: PROMPT }];
const FORMATS: [ProviderName, string, (m: Record<string, unknown>) => Record<string, unknown>][] = [
  ['openai', '/v1/chat/completions', (mock) => ({ messages, stream: true, max_tokens: 4, seed: 2, stream_options: { include_usage: true }, mock })],
  ['openai-responses', '/v1/responses', (mock) => ({ input: messages, stream: true, max_output_tokens: 4, mock: { seed: 2, ...mock } })],
  ['anthropic', '/v1/messages', (mock) => ({ messages, stream: true, max_tokens: 4, mock: { seed: 2, ...mock } })],
  ['ollama', '/api/chat', (mock) => ({ messages, options: { num_predict: 4, seed: 2 }, mock })],
];
const SHAPES: MockShape[] = [{ tools: 2, reasoning: 2, blocks: 2, noise: true }, { tools: 1 }, { reasoning: 3 }];
// One connection per request (`reset`): the split tests keep the event loop busy past the mock's keep-alive
// timeout, and a request on a socket the server is closing at that moment would be reset.
const fetchBody = async (path: string, body: Record<string, unknown>) => {
  const res = await request(`${mock.url}${path}`, { method: 'POST', reset: true, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, bytes: Buffer.from(await res.body.arrayBuffer()) };
};

describe.each(FORMATS)('%s: generated shapes decode to the planned answer', (provider, path, body) => {
  it.each(SHAPES)('shape %o, whole and split at every byte', async (shape) => {
    const { bytes } = await fetchBody(path, body({ shape }));
    const want = mockExpectation(PROMPT, 2, 4, shape);
    const r = providerRoute(provider);
    const events = decodeChunks(r, [bytes]);
    expect(events.filter((e) => e.type === 'delta').map((e) => e.text).join('')).toBe(want.text);
    expect(events.filter((e) => e.type === 'thinking').map((e) => e.text).join('')).toBe(want.thinking);
    const calls = reassemble(events);
    expect(calls.map((c) => [c.name, c.arguments])).toEqual(want.toolCalls.map((c) => [c.name, c.arguments]));
    if (provider !== 'ollama') expect(calls.every((c) => c.id)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'done', finishReason: 'length', usage: { inputTokens: 2, estimated: false } });
    expect(firstBadSplit(r, bytes, events)).toBeUndefined();
  });

  it('an invalid shape is refused with 400 in the format’s error body', async () => {
    for (const shape of [{ tools: 9 }, { blocks: 0 }, { noise: 'yes' }, { colour: 1 }, [1]]) {
      const { status } = await fetchBody(path, body({ shape }));
      expect(status, JSON.stringify(shape)).toBe(400);
    }
  });
});

describe('mock plan', () => {
  it.each(SHAPES)('shape %o: the counted pieces (the usage it reports) are the pieces it sends', (shape) => {
    const plan = mockPlan(PROMPT, 2, 5, shape);
    expect(plan.count).toBe([...plan.steps()].length);
  });
});

describe('mock noise is noise only', () => {
  it('with and without noise, ingest reads the same events from every format', async () => {
    for (const [provider, path, body] of FORMATS) {
      const plain = decodeChunks(providerRoute(provider), [(await fetchBody(path, body({ shape: { tools: 2, reasoning: 1 } }))).bytes]);
      const noisy = decodeChunks(providerRoute(provider), [(await fetchBody(path, body({ shape: { tools: 2, reasoning: 1, noise: true } }))).bytes]);
      expect(noisy, provider).toEqual(plain);
    }
  });
});
