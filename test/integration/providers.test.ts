import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokensFor } from '../../services/mock-model/src/index.js';
import { bearer, makeKey } from '../helpers/auth.js';
import { readSse, type ReceivedEvent } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

// Every provider, through the whole path: edge -> BullMQ -> ingest -> mock model (in that provider's wire
// format) -> Redis -> SSE. The default routes have one mock model per format.
let sys: TestSystem;
/** A key of the same tenant that may use two of the models. */
const limited = makeKey('limited', 'test', { models: ['mock', 'mock-ollama'] });
beforeAll(async () => {
  sys = await startSystem({ edges: 1, keys: [limited], env: { UPSTREAM_IDLE_TIMEOUT_MS: '800', UPSTREAM_MAX_ATTEMPTS: '2' } });
});
afterAll(async () => {
  await sys?.close();
});

const PROMPT = 'tell me about rivers';
const ask = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: PROMPT }], seed: 5, ...extra });
const dataOf = (e: ReceivedEvent) => JSON.parse(e.data) as Record<string, any>;
const textOf = (events: ReceivedEvent[], type = 'delta') => events.filter((e) => e.event === type).map((e) => dataOf(e).text as string).join('');
const edge = () => sys.edges[0]!.url;

async function session(body: Record<string, unknown>) {
  const s = await sys.create(body);
  const r = await readSse(edge(), s.eventsUrl);
  const status = (await (await fetch(edge() + s.statusUrl, { headers: bearer(s.token) })).json()) as Record<string, any>;
  return { events: r.events, last: r.events.at(-1)!, status };
}

const MODELS = ['mock', 'mock-responses', 'mock-anthropic', 'mock-ollama', 'mock-sse'] as const;
/** What each format's in-band error becomes (the mock sends each format's own shape). */
const IN_BAND: Record<(typeof MODELS)[number], string> = {
  mock: 'server_error: mock in-band error',
  'mock-responses': 'server_error: mock in-band error',
  'mock-anthropic': 'overloaded_error: Overloaded',
  'mock-ollama': 'mock in-band error',
  'mock-sse': 'server_error: mock in-band error',
};
/** What each format's HTTP error body says. */
const HTTP_500: Record<(typeof MODELS)[number], string> = {
  mock: 'server_error: mock fault status 500',
  'mock-responses': 'server_error: mock fault status 500',
  'mock-anthropic': 'api_error: mock fault status 500',
  'mock-ollama': 'mock fault status 500',
  'mock-sse': 'server_error: mock fault status 500',
};

describe.each(MODELS)('%s', (model) => {
  it('streams the deterministic answer and ends with done, finish reason and usage', async () => {
    const { events, last, status } = await session(ask(model, { max_tokens: 12, mock: { intervalMs: 2 } }));
    const expected = tokensFor(PROMPT, 5, 12).join('');
    expect(textOf(events)).toBe(expected);
    expect(last.event).toBe('done');
    const done = dataOf(last);
    // A plain SSE source has no finish reason: its end marker is a stop.
    expect(done.finishReason).toBe(model === 'mock-sse' ? 'stop' : 'length');
    // The plain SSE source reports no usage: Relaycast counts (4 characters a token) and says so.
    if (model === 'mock-sse') expect(done.usage).toEqual({ inputTokens: Math.ceil(PROMPT.length / 4), outputTokens: Math.ceil(expected.length / 4), estimated: true });
    else expect(done.usage).toEqual({ inputTokens: 4, outputTokens: 12, estimated: false });
    expect(status).toMatchObject({ status: 'done', text: expected, finishReason: done.finishReason });
  });

  it('with no max_tokens, 16 tokens and the natural finish reason stop (Anthropic: the route default, a limit)', async () => {
    const { events, last } = await session(ask(model));
    expect(textOf(events)).toBe(tokensFor(PROMPT, 5, 16).join(''));
    // Anthropic requires max_tokens: the mock-anthropic route's default (16) is sent, and reached.
    expect(dataOf(last).finishReason).toBe(model === 'mock-anthropic' ? 'length' : 'stop');
  });

  const faults: [string, string, RegExp | string][] = [
    ['status:500', 'upstream_http', `upstream answered HTTP 500: ${HTTP_500[model]}`],
    ['status:400', 'upstream_http', /HTTP 400/],
    ['drop:3', 'upstream_network', /cut mid-stream/],
    ['stall:2', 'upstream_timeout', /idle timeout/],
    ['truncate:3', 'upstream_truncated', /without its end marker/],
    ['error:2', 'upstream_error', IN_BAND[model]],
    ...(model === 'mock-sse' ? [] : ([['malformed:2', 'upstream_protocol', /not valid JSON/]] as [string, string, RegExp][])),
  ];
  it.each(faults)('fault %s ends with one error %s in the format’s own words', async (fault, code, message) => {
    const { events, last, status } = await session(ask(model, { max_tokens: 10, mock: { fault, intervalMs: 2 } }));
    expect(events.filter((e) => ['done', 'error', 'cancelled'].includes(e.event!))).toHaveLength(1);
    expect(last.event).toBe('error');
    expect(dataOf(last).code).toBe(code);
    if (typeof message === 'string') expect(dataOf(last).message).toBe(message);
    else expect(dataOf(last).message).toMatch(message);
    expect(status.status).toBe('error');
  });
});

describe('formats in detail, through the whole path', () => {
  it('plain SSE passes data it cannot parse as JSON through as text (the passthrough never rejects data)', async () => {
    const { events, last } = await session(ask('mock-sse', { max_tokens: 4, mock: { fault: 'malformed:2' } }));
    const t = tokensFor(PROMPT, 5, 4);
    expect(textOf(events)).toBe(`${t[0]}{"text":${t[2]}${t[3]}`);
    expect(last.event).toBe('done');
  });

  it('an in-band error before the first token is retried (the client has seen nothing), then reported', async () => {
    const before = (await (await fetch(`${sys.mockUrl}/v1/mock/stats`)).json()) as { byPath: Record<string, number> };
    const { events, last } = await session(ask('mock-anthropic', { max_tokens: 5, mock: { fault: 'error:0' } }));
    const after = (await (await fetch(`${sys.mockUrl}/v1/mock/stats`)).json()) as { byPath: Record<string, number> };
    expect(after.byPath['/v1/messages']! - before.byPath['/v1/messages']!).toBe(2);
    expect(events).toHaveLength(1);
    expect(dataOf(last)).toEqual({ code: 'upstream_error', message: 'overloaded_error: Overloaded', retryable: true });
  });

  it('Anthropic thinking arrives as thinking events; the status text stays the answer only', async () => {
    const { events, last, status } = await session(ask('mock-anthropic', { mock: { transcript: 'anthropic-thinking.sse', intervalMs: 1 } }));
    const thinking = 'I need to find the GCD of 1071 and 462 using the Euclidean algorithm.\n\n1071 = 2 × 462 + 147\n462 = 3 × 147 + 21\n147 = 7 × 21 + 0\n\nSo GCD(1071, 462) = 21';
    const answer = 'The greatest common divisor (GCD) of 1071 and 462 is **21** — café ✓.';
    expect(textOf(events, 'thinking')).toBe(thinking);
    expect(textOf(events)).toBe(answer);
    expect(events.findLastIndex((e) => e.event === 'thinking')).toBeLessThan(events.findIndex((e) => e.event === 'delta'));
    expect(dataOf(last)).toEqual({ finishReason: 'stop', usage: { inputTokens: 472, outputTokens: 128, estimated: false } });
    expect(status).toMatchObject({ text: answer, thinking, toolCalls: [] });
  });

  it('OpenAI tool-call deltas arrive as tool_call events; the status endpoint reassembles them', async () => {
    const { events, last, status } = await session(ask('mock', { mock: { transcript: 'openai-tools.sse' } }));
    const calls = events.filter((e) => e.event === 'tool_call').map(dataOf);
    expect(calls[0]).toMatchObject({ index: 0, id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA', name: 'get_weather' });
    const args = (i: number) => calls.filter((c) => c.index === i).map((c) => c.arguments).join('');
    expect(JSON.parse(args(0))).toEqual({ location: 'Paris, France' });
    expect(JSON.parse(args(1))).toEqual({ tz: 'Europe/Paris' });
    expect(dataOf(last).finishReason).toBe('tool_calls');
    expect(status.text).toBe('');
    expect(status.toolCalls).toEqual([
      { index: 0, id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA', name: 'get_weather', arguments: '{"location":"Paris, France"}' },
      { index: 1, id: 'call_7kT2wQ', name: 'get_time', arguments: '{"tz":"Europe/Paris"}' },
    ]);
  });

  it('Ollama thinking and whole tool calls, and the Responses API’s function calls, through their endpoints', async () => {
    const o = await session(ask('mock-ollama', { mock: { transcript: 'ollama-tools.ndjson' } }));
    expect(textOf(o.events, 'thinking')).toBe('The user asks about Paris weather.');
    expect(o.status.toolCalls).toEqual([{ index: 0, name: 'get_current_weather', arguments: '{"format":"celsius","location":"Paris, FR"}' }]);
    const r = await session(ask('mock-responses', { mock: { transcript: 'openai-responses-function.sse' } }));
    expect(r.status.toolCalls).toEqual([{ index: 0, id: 'call_12345xyz', name: 'get_weather', arguments: '{"location":"Paris, France"}' }]);
    expect(dataOf(r.last).finishReason).toBe('tool_calls');
  });
});

describe('GET /v1/models', () => {
  it('lists every route with its provider and description, and nothing about where it points', async () => {
    const res = await fetch(`${edge()}/v1/models`, { headers: sys.auth });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { models: { id: string; provider: string; description?: string }[] };
    expect(body.models.map((m) => [m.id, m.provider])).toEqual([
      ['mock', 'openai'],
      ['mock-responses', 'openai-responses'],
      ['mock-anthropic', 'anthropic'],
      ['mock-ollama', 'ollama'],
      ['mock-sse', 'sse'],
    ]);
    for (const m of body.models) expect(Object.keys(m).sort()).toEqual(['description', 'id', 'provider']);
    expect(JSON.stringify(body)).not.toContain(sys.mockUrl);
    expect((await fetch(`${edge()}/v1/models`, { method: 'POST' })).status).toBe(405);
  });

  it('needs an API key, and lists only the models that key may use', async () => {
    const res = await fetch(`${edge()}/v1/models`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const narrow = await fetch(`${edge()}/v1/models`, { headers: limited.headers });
    expect(((await narrow.json()) as { models: { id: string }[] }).models.map((m) => m.id)).toEqual(['mock', 'mock-ollama']);
  });
});
