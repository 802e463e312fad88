import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RelaycastEvent } from '@relaycast/protocol';
import type { GenerateJob, Route } from '@relaycast/shared';
import { PROVIDER_ADAPTERS } from '../../services/ingest/src/providers/index.js';
import { BodyDecoder } from '../../services/ingest/src/upstream.js';
import { decodeChunks, providerRoute, transcript } from '../helpers/provider-decode.js';

const job: GenerateJob = { sessionId: 's', model: 'm', messages: [{ role: 'user', content: 'What is up?' }], params: {} };
// The helpers every provider test shares: ingest's real body path (BodyDecoder) fed with transcripts.
const route = providerRoute;
const fixture = transcript;
const decode = decodeChunks;

const d = (text: string): RelaycastEvent => ({ type: 'delta', text });
const th = (text: string): RelaycastEvent => ({ type: 'thinking', text });
const tool = (index: number, args: string, id?: string, name?: string): RelaycastEvent => ({ type: 'tool_call', index, ...(id ? { id } : {}), ...(name ? { name } : {}), arguments: args });
const usage = (inputTokens: number, outputTokens: number, estimated = false) => ({ inputTokens, outputTokens, estimated });
const u = (i: number, o: number, estimated = false): RelaycastEvent => ({ type: 'usage', ...usage(i, o, estimated) });
const done = (finishReason: string, us: ReturnType<typeof usage>): RelaycastEvent => ({ type: 'done', finishReason, usage: us });
const err = (message: string, retryable: boolean): RelaycastEvent => ({ type: 'error', code: 'upstream_error', message, retryable });
/** Relaycast's own count (4 characters a token) of this test's prompt and `chars` of output. */
const est = (chars: number) => usage(Math.ceil('What is up?'.length / 4), Math.ceil(chars / 4), true);

const CASES: [file: string, route: Route, expected: RelaycastEvent[]][] = [
  ['openai-basic.sse', route('openai'), [d('Hello'), d(', world'), d('!'), u(9, 3), done('stop', usage(9, 3))]],
  [
    'openai-tools.sse',
    route('openai'),
    [tool(0, '', 'call_DdmO9pD3xa9XTPNJ32zg2hcA', 'get_weather'), tool(0, '{"'), tool(0, 'location'), tool(0, '":"Paris, France"}'), tool(1, '', 'call_7kT2wQ', 'get_time'), tool(1, '{"tz":"Europe/Paris"}'), u(80, 38), done('tool_calls', usage(80, 38))],
  ],
  ['openai-error.sse', route('openai'), [d('Partial ans'), d('wer – '), err('server_error: The server had an error while processing your request. Sorry about that!', true)]],
  ['openai-responses.sse', route('openai-responses'), [d('Hi'), d(' there'), d('! 👋'), u(37, 11), done('stop', usage(37, 11))]],
  ['openai-responses-incomplete.sse', route('openai-responses'), [d('Once upon'), d(' a time'), u(37, 4), done('length', usage(37, 4))]],
  [
    'openai-responses-function.sse',
    route('openai-responses'),
    [th('**Checking the weather**\n\nThe user wants'), th(' Paris.'), tool(0, '', 'call_12345xyz', 'get_weather'), tool(0, '{"'), tool(0, 'location'), tool(0, '":"'), tool(0, 'Paris, France'), tool(0, '"}'), u(291, 23), done('tool_calls', usage(291, 23))],
  ],
  ['openai-responses-failed.sse', route('openai-responses'), [err('server_error: The model failed to generate a response.', true)]],
  ['openai-responses-error.sse', route('openai-responses'), [err('ERR_SOMETHING: Something went wrong', false)]],
  [
    'anthropic-thinking.sse',
    route('anthropic'),
    [
      th('I need to find the GCD of 1071 and 462 using the Euclidean algorithm.\n\n1071 = 2 × 462 + 147'),
      th('\n462 = 3 × 147 + 21\n147 = 7 × 21 + 0\n\nSo GCD(1071, 462) = 21'),
      d('The greatest common divisor (GCD) of 1071 and 462 is '),
      d('**21** — café ✓.'),
      u(472, 128),
      done('stop', usage(472, 128)),
    ],
  ],
  [
    'anthropic-tool.sse',
    route('anthropic'),
    [d('Okay'), d(", let's check the weather for San Francisco, CA:"), tool(0, '', 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', 'get_weather'), tool(0, '{"location":'), tool(0, ' "San Francisc'), tool(0, 'o, CA", "unit": "fahrenheit"}'), u(472, 89), done('tool_calls', usage(472, 89))],
  ],
  ['anthropic-overloaded.sse', route('anthropic'), [d('Hello'), err('overloaded_error: Overloaded', true)]],
  ['anthropic-max-tokens.sse', route('anthropic'), [d('One two'), d(' three'), u(16, 3), done('length', usage(16, 3))]],
  ['ollama-chat.ndjson', route('ollama'), [d('The'), d(' sky'), d(' is blue — ☀️'), u(26, 282), done('stop', usage(26, 282))]],
  ['ollama-tools.ndjson', route('ollama'), [th('The user asks'), th(' about Paris weather.'), tool(0, '{"format":"celsius","location":"Paris, FR"}', undefined, 'get_current_weather'), u(122, 33), done('tool_calls', usage(122, 33))]],
  ['ollama-error.ndjson', route('ollama'), [d('Hel'), err('an error was encountered while running the model: unexpected EOF', false)]],
  ['ollama-length.ndjson', route('ollama'), [d('Once'), d(' upon'), u(3, 2, true), done('length', usage(3, 2, true))]],
  ['sse-json.sse', route('sse', { sse: { textPath: 'text', events: ['message'], doneData: '[DONE]' } }), [d('Héllo'), d(', wörld'), d(' 日本 🚀'), done('stop', est('Héllo, wörld 日本 🚀'.length))]],
  ['sse-raw.sse', route('sse', { sse: { events: ['token'], doneEvent: 'done' } }), [d('first line\nsecond line'), d(' spaced'), d('naïve'), done('stop', est('first line\nsecond line spacednaïve'.length))]],
];

describe('every provider adapter over recorded transcripts', () => {
  it('the fixtures hold multi-byte UTF-8 and CRLF line ends, so the splits below cut inside both', () => {
    const all = CASES.map(([f]) => fixture(f));
    expect(all.some((b) => b.includes(Buffer.from('\r\n')))).toBe(true);
    expect(all.filter((b) => b.some((byte) => byte >= 0x80)).length).toBeGreaterThanOrEqual(5);
    for (const p of ['openai', 'openai-responses', 'anthropic', 'ollama', 'sse'] as const) expect(CASES.some(([, r]) => r.provider === p), p).toBe(true);
  });

  it.each(CASES)('%s whole gives the expected events', (file, r, expected) => {
    expect(decode(r, [fixture(file)])).toEqual(expected);
  });

  it.each(CASES)('%s split at every byte boundary gives the same events', (file, r, expected) => {
    const bytes = fixture(file);
    for (let i = 1; i < bytes.length; i++) {
      const got = decode(r, [bytes.subarray(0, i), bytes.subarray(i)]);
      if (JSON.stringify(got) !== JSON.stringify(expected)) expect(got, `split at byte ${i}`).toEqual(expected);
    }
  });

  it.each(CASES)('%s split at random boundaries (and byte by byte) gives the same events', (file, r, expected) => {
    const bytes = fixture(file);
    expect(decode(r, [...bytes].map((b) => Uint8Array.of(b)))).toEqual(expected);
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const at = [0, ...cuts.sort((a, b) => a - b), bytes.length];
        expect(decode(r, at.slice(1).map((end, i) => bytes.subarray(at[i]!, end)))).toEqual(expected);
      }),
      { numRuns: 150 },
    );
  });

  it.each(CASES.filter(([, , e]) => e.at(-1)!.type === 'done'))('%s cut before its end marker is upstream_truncated, not a success', (file, r) => {
    const text = fixture(file).toString('utf8');
    // Drop the last complete message: the end marker (or Ollama's done line).
    const sep = r.provider === 'ollama' ? (text.includes('\r\n') ? '\r\n' : '\n') : text.includes('\r\n') ? '\r\n\r\n' : '\n\n';
    const t = text.slice(0, text.length - sep.length);
    const body = t.slice(0, t.lastIndexOf(sep) + sep.length);
    const got = decode(r, [Buffer.from(body)]);
    expect(got.at(-1)).toMatchObject({ type: 'error', code: 'upstream_truncated' });
  });
});

describe('provider details', () => {
  const frames = (...lines: string[]) => [Buffer.from(lines.join(''))];

  it('OpenAI chat without a usage chunk: usage is estimated from the output and marked so', () => {
    const c = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    const got = decode(route('openai'), frames(c({ content: 'abcdefgh' }), c({}, 'length'), 'data: [DONE]\n\n'));
    expect(got).toEqual([d('abcdefgh'), done('length', est(8))]);
  });

  it('a frame that is not JSON is upstream_protocol; an event past the size limit too', () => {
    expect(decode(route('anthropic'), frames('event: content_block_delta\ndata: {"type":\n\n')).at(-1)).toMatchObject({ code: 'upstream_protocol' });
    expect(decode(route('ollama'), frames('{"message":\n')).at(-1)).toMatchObject({ code: 'upstream_protocol' });
    const p = PROVIDER_ADAPTERS.openai;
    const body = new BodyDecoder(p.format, p.decoder(job, route('openai')), () => undefined, 1024);
    expect(() => body.chunk(Buffer.from(`data: ${'x'.repeat(2000)}`))).toThrow(expect.objectContaining({ code: 'upstream_protocol' }));
  });

  it('Anthropic: unknown event types and ping are ignored', () => {
    const got = decode(
      route('anthropic'),
      frames(
        'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":1}}}\n\n',
        'event: ping\ndata: {"type": "ping"}\n\n',
        'event: brand_new_event\ndata: {"type":"brand_new_event","x":1}\n\n',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"future_delta","foo":"bar"}}\n\n',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}\n\n',
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}\n\n',
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
      ),
    );
    expect(got).toEqual([d('ok'), u(5, 2), done('stop', usage(5, 2))]);
  });

  it('Responses: an event whose sequence_number was already seen is a duplicate and is dropped', () => {
    const ev = (seq: number, type: string, extra: object) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq, ...extra })}\n\n`;
    const got = decode(route('openai-responses'), frames(ev(1, 'response.output_text.delta', { delta: 'a' }), ev(1, 'response.output_text.delta', { delta: 'a' }), ev(2, 'response.output_text.delta', { delta: 'b' }), ev(3, 'response.completed', { response: { usage: { input_tokens: 1, output_tokens: 2 } } })));
    expect(got).toEqual([d('a'), d('b'), u(1, 2), done('stop', usage(1, 2))]);
  });

  it('SSE passthrough: data that is not JSON is text as it is; EOF is the end only when the route says so', () => {
    const r = route('sse', { sse: { textPath: 'choices.0.text', doneData: '[DONE]' } });
    expect(decode(r, frames('data: {"choices":[{"text":"a"}]}\n\ndata: plain\n\ndata: {"choices":[]}\n\ndata: [DONE]\n\n'))).toEqual([d('a'), d('plain'), done('stop', est(6))]);
    expect(decode(r, frames('data: x\n\n')).at(-1)).toMatchObject({ code: 'upstream_truncated' });
    expect(decode(route('sse', { sse: { eofIsEnd: true } }), frames('data: x\n\n'))).toEqual([d('x'), done('stop', est(1))]);
    expect(decode(r, frames('data: a\n\nevent: error\ndata: {"error":{"message":"quota exceeded","type":"rate_limit_error"}}\n\n'))).toEqual([d('a'), err('rate_limit_error: quota exceeded', true)]);
  });
});

describe('provider requests', () => {
  const withParams: GenerateJob = { ...job, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], params: { max_tokens: 50, temperature: 0.5, seed: 3 }, mock: { fault: 'drop:1' } };
  const req = (r: Route, j: GenerateJob = withParams, key?: string) => {
    const x = PROVIDER_ADAPTERS[r.provider].request(r, j, key);
    return { ...x, json: x.body ? JSON.parse(x.body) : undefined };
  };

  it('OpenAI chat: /v1/chat/completions, Bearer key, usage always requested, route defaults under request params', () => {
    const x = req(route('openai', { defaults: { max_tokens: 10, top_p: 0.9 } }), withParams, 'sk-test');
    expect(x.url).toBe('https://api.example.com/v1/chat/completions');
    expect(x.headers.authorization).toBe('Bearer sk-test');
    expect(x.json).toEqual({ model: 'm-1', messages: withParams.messages, stream: true, stream_options: { include_usage: true }, max_tokens: 50, temperature: 0.5, top_p: 0.9, seed: 3 });
  });

  it('Responses: input and max_output_tokens', () => {
    const x = req(route('openai-responses'));
    expect(x.url).toBe('https://api.example.com/v1/responses');
    expect(x.json).toEqual({ model: 'm-1', input: withParams.messages, stream: true, max_output_tokens: 50, temperature: 0.5 });
  });

  it('Anthropic: x-api-key and anthropic-version, system apart, max_tokens always set', () => {
    const x = req(route('anthropic'), { ...withParams, params: {} }, 'sk-ant-test');
    expect(x.url).toBe('https://api.example.com/v1/messages');
    expect(x.headers).toMatchObject({ 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01' });
    expect(x.headers.authorization).toBeUndefined();
    expect(x.json).toEqual({ model: 'm-1', max_tokens: 4096, system: 'Be brief.', messages: [{ role: 'user', content: 'Hi' }], stream: true });
  });

  it('Ollama: /api/chat with options', () => {
    const x = req(route('ollama', { baseUrl: 'http://127.0.0.1:11434' }));
    expect(x.url).toBe('http://127.0.0.1:11434/api/chat');
    expect(x.json).toEqual({ model: 'm-1', messages: withParams.messages, stream: true, options: { temperature: 0.5, num_predict: 50, seed: 3 } });
  });

  it('SSE passthrough: body template, or GET with query placeholders', () => {
    const post = req(route('sse', { path: 'stream', sse: { body: { q: '{{prompt}}', n: '{{max_tokens}}', t: '{{temperature}}', fixed: [1, '{{model}}'], missing: '{{seed}}' }, doneData: '[DONE]' } }), { ...withParams, params: { max_tokens: 5 } });
    expect(post.url).toBe('https://api.example.com/stream');
    expect(post.json).toEqual({ q: 'Be brief.\nHi', n: 5, fixed: [1, 'm-1'] });
    const get = req(route('sse', { baseUrl: 'https://x.example/events?a=1', sse: { method: 'GET', query: { prompt: 'say {{prompt}}' }, eofIsEnd: true } }));
    expect(get.method).toBe('GET');
    expect(get.body).toBeUndefined();
    expect(new URL(get.url).searchParams.get('prompt')).toBe('say Be brief.\nHi');
    expect(new URL(get.url).searchParams.get('a')).toBe('1');
  });

  it('a request’s stop sequences go in each format’s own field; Responses and a template without {{stop}} have none', () => {
    const stop = ['\n\nUser:', 'END'];
    const j: GenerateJob = { ...withParams, params: { ...withParams.params, stop } };
    expect(req(route('openai'), j).json.stop).toEqual(stop);
    expect(req(route('anthropic'), j).json.stop_sequences).toEqual(stop);
    expect(req(route('ollama'), j).json.options).toEqual({ temperature: 0.5, num_predict: 50, seed: 3, stop });
    expect(Object.keys(req(route('openai-responses'), j).json)).not.toContain('stop');
    expect(req(route('sse', { sse: { body: { p: '{{prompt}}', stop: '{{stop}}' }, doneData: '[DONE]' } }), j).json).toEqual({ p: 'Be brief.\nHi', stop });
    expect(Object.keys(req(route('sse'), j).json)).not.toContain('stop');
    // Without stop, no format sends the field.
    for (const p of ['openai', 'anthropic', 'ollama'] as const) expect(JSON.stringify(req(route(p)).json)).not.toMatch(/"stop/);
  });

  it('mock controls (with the seed) go only where the route allows them; route body fields and a path override are used', () => {
    expect(req(route('anthropic')).json.mock).toBeUndefined();
    expect(req(route('anthropic', { allowMock: true })).json.mock).toEqual({ fault: 'drop:1', seed: 3 });
    const x = req(route('openai', { path: 'openai/v1/chat/completions', body: { user: 'relaycast', stream: false } }));
    expect(x.url).toBe('https://api.example.com/openai/v1/chat/completions');
    expect(x.json.user).toBe('relaycast');
    expect(x.json.stream).toBe(true);
  });
});
