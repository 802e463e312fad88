import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse, type SseResult } from '../helpers/sse.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

/**
 * The publishers under docs/examples, run as they are documented (curl, Python's standard library, a Node
 * backend with the SDK) against a real edge: a subscriber must get exactly what each published.
 */
const run = promisify(execFile);
const example = (name: string) => fileURLToPath(new URL(`../../docs/examples/${name}`, import.meta.url));

let sys: TestSystem;
beforeAll(async () => {
  sys = await startSystem({ edges: 1 });
});
afterAll(async () => {
  await sys?.close();
});

async function runExample(cmd: string, args: string[], extraEnv: Record<string, string> = {}): Promise<{ stdout: string; read: SseResult }> {
  const env = { ...process.env, RELAYCAST_URL: sys.edges[0]!.url, RELAYCAST_API_KEY: sys.apiKey, ...extraEnv };
  const { stdout } = await run(cmd, args, { env, timeout: 30_000 });
  const url = /subscribe: (\S+)/.exec(stdout)?.[1];
  expect(url, stdout).toBeDefined();
  return { stdout, read: await readSse(sys.edges[0]!.url, new URL(url!).pathname + new URL(url!).search) };
}

const text = (r: SseResult) => r.events.filter((e) => e.event === 'delta').map((e) => (JSON.parse(e.data) as { text: string }).text).join('');

describe('docs/examples publishers', () => {
  it('publish-curl.sh: a batch with a custom event, then a stream of lines, then done', async () => {
    const { read } = await runExample('bash', [example('publish-curl.sh')]);
    expect(text(read)).toBe('Hello, world from a shell');
    expect(read.events.map((e) => e.event)).toEqual(['delta', 'search.results', 'delta', 'delta', 'delta', 'delta', 'done']);
    expect(read.events.map((e) => e.id)).toEqual(['1', '2', '3', '4', '5', '6', '7']);
  });

  it('publish.py (standard library only): a batch, then a chunked NDJSON stream', async () => {
    const { stdout, read } = await runExample('python3', [example('publish.py')]);
    expect(stdout).toMatch(/"ended": true/);
    expect(text(read)).toBe('Hello from the standard library');
    expect(read.events.map((e) => e.event)).toEqual(['delta', 'app.step', 'delta', 'delta', 'delta', 'delta', 'done']);
  });

  it('openai-backend.mjs: its own OpenAI-compatible call, post-processed, published with the SDK', async () => {
    const { stdout, read } = await runExample('node', [example('openai-backend.mjs'), 'hello'], { OPENAI_BASE_URL: sys.mockUrl, OPENAI_MODEL: 'mock' });
    const tokens = Number(/published (\d+) tokens/.exec(stdout)?.[1]);
    expect(tokens).toBeGreaterThan(0);
    expect(read.events.filter((e) => e.event === 'delta')).toHaveLength(tokens);
    // The mock model answers in lower case: every published token went through the backend's own step.
    expect(text(read)).toMatch(/^[A-Z][A-Z ]+$/);
    expect(read.events.at(-2)).toMatchObject({ event: 'backend.stats', data: JSON.stringify({ tokens }) });
    expect(read.events.at(-1)!.event).toBe('done');
  });
});
