import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '@relaycast/shared';
import { loadIngestConfig } from '../../services/ingest/src/config.js';
import { z } from 'zod';
import { compilePipelines, defineProcessor, type ProcessorDefinition, type StreamEvent } from '@relaycast/processors';
import { compilePatterns, StreamRedactor } from '../../packages/processors/src/redact.js';
import { trimStart } from '../../docs/examples/trim-start.js';

/** A route's compiled pipeline, as ingest builds it at start-up. */
function pipelineOf(processors: object[], extra: ProcessorDefinition<any>[] = [], stop?: string[]) {
  const cfg = loadIngestConfig({ ROUTES_JSON: JSON.stringify({ r: { provider: 'openai', baseUrl: 'http://127.0.0.1:1', model: 'm', processors } }), DEFAULT_MODEL: 'r' });
  const factory = compilePipelines(cfg, extra).get('r')!;
  const out: StreamEvent[] = [];
  const finished: string[] = [];
  const failed: string[] = [];
  const p = factory.create({ emit: (e) => out.push(e), finish: (r) => finished.push(r), fail: (name) => failed.push(name) }, stop);
  return { p, out, finished, failed, names: factory.names };
}
const d = (text: string): StreamEvent => ({ type: 'delta', text });
const textOf = (events: StreamEvent[], type = 'delta') => events.map((e) => (e.type === type && 'text' in e ? e.text : '')).join('');
const NO_COALESCE = { type: 'coalesce', windowMs: 0 };

/** Feeds `pieces` as deltas and ends; returns what came out. */
function run(processors: object[], pieces: string[]) {
  const x = pipelineOf([...processors, NO_COALESCE]);
  for (const t of pieces) x.p.push(d(t));
  x.p.end();
  return x;
}

describe('pipeline', () => {
  it('appends coalescing last unless the route places it, with COALESCE_MS', () => {
    expect(pipelineOf([{ type: 'stop', sequences: ['x'] }]).names).toEqual(['stop', 'coalesce']);
    expect(pipelineOf([{ type: 'coalesce', windowMs: 5 }, { type: 'stop', sequences: ['x'] }]).names).toEqual(['coalesce', 'stop']);
  });

  it('a processor that throws fails the generation with its name; nothing after it runs', () => {
    const boom = defineProcessor({
      type: 'boom',
      options: z.strictObject({}),
      setup: () => () => ({
        event() {
          throw new Error('bug');
        },
        end() {},
      }),
    });
    const x = pipelineOf([{ type: 'boom' }, NO_COALESCE], [boom]);
    x.p.push(d('a'));
    x.p.push(d('b'));
    expect(x.failed).toEqual(['boom']);
    expect(x.out).toEqual([]);
  });
});

describe('stop sequences', () => {
  it('ends at a sequence split across three deltas: text before it only, finish stop, nothing after', () => {
    const x = run([{ type: 'stop', sequences: ['<END>'] }], ['Hello wor', 'ld <E', 'N', 'D> and more', ' ignored']);
    expect(textOf(x.out)).toBe('Hello world ');
    expect(x.finished).toEqual(['stop']);
  });

  it('holds back only what could start a sequence, and lets a false start go', () => {
    const x = pipelineOf([{ type: 'stop', sequences: ['STOP'] }, NO_COALESCE]);
    x.p.push(d('a ST'));
    expect(textOf(x.out)).toBe('a ');
    x.p.push(d('ART b S'));
    expect(textOf(x.out)).toBe('a START b ');
    x.p.end();
    expect(textOf(x.out)).toBe('a START b S');
    expect(x.finished).toEqual([]);
  });

  it('the earliest of several sequences wins; other events flush what is held and pass in order', () => {
    const x = pipelineOf([{ type: 'stop', sequences: ['zz', 'yy'] }, NO_COALESCE]);
    x.p.push(d('ab y'));
    x.p.push({ type: 'usage', inputTokens: 1, outputTokens: 1, estimated: false });
    x.p.push(d('c yy zz'));
    expect(x.out).toEqual([d('ab '), d('y'), { type: 'usage', inputTokens: 1, outputTokens: 1, estimated: false }, d('c ')]);
    expect(x.finished).toEqual(['stop']);
  });

  it('a request’s sequences run after the route’s processors (they see redacted text) and before coalescing, which flushes', () => {
    // A window longer than this synchronous test: only the stop's finish can make coalescing let its text go.
    const x = pipelineOf([{ type: 'redact', builtins: ['email'] }, { type: 'coalesce', windowMs: 1_000 }], [], ['[email]']);
    for (const t of ['Write to alice@exa', 'mple.org', ' today.']) x.p.push(d(t));
    expect(textOf(x.out)).toBe('Write to ');
    expect(x.finished).toEqual(['stop']);
    x.p.end();
    expect(textOf(x.out)).toBe('Write to ');
  });

  it('property: without a sequence in the text, the text passes unchanged whatever the split', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: fc.constantFrom('S', 'T', 'O', 'P', ' ', 'x') }), { maxLength: 12 }), (pieces) => {
        fc.pre(!pieces.join('').includes('STOP'));
        const x = run([{ type: 'stop', sequences: ['STOP'] }], pieces);
        expect(textOf(x.out)).toBe(pieces.join(''));
        expect(x.finished).toEqual([]);
      }),
    );
  });
});

describe('redaction', () => {
  it('catches an e-mail address split across three deltas; no fragment of it is ever emitted', () => {
    const x = pipelineOf([{ type: 'redact', builtins: ['email'] }, NO_COALESCE]);
    for (const t of ['Write to alice.sm', 'ith@exam', 'ple.org today.']) x.p.push(d(t));
    x.p.end();
    expect(textOf(x.out)).toBe('Write to [email] today.');
    for (const e of x.out) for (const frag of ['alice', 'sm', 'ith', 'exam', 'ple.org']) expect(textOf([e])).not.toContain(frag);
  });

  it('catches a key split across three deltas, and holds back only the shortest suffix that could start a match', () => {
    const x = pipelineOf([{ type: 'redact', builtins: ['keys'] }, NO_COALESCE]);
    x.p.push(d('use key s'));
    // "s" could begin "sk-…"; nothing else is held.
    expect(textOf(x.out)).toBe('use key ');
    x.p.push(d('k-proj-Abcdefghij'));
    expect(textOf(x.out)).toBe('use key ');
    x.p.push(d('KLMNOPQRSTUVWXYZ0123 then stop. This is fine'));
    expect(textOf(x.out)).toBe('use key [secret] then stop. This is fine');
  });

  it('applies custom patterns in order, to thinking text too, flushing on a change of kind', () => {
    const x = pipelineOf([{ type: 'redact', patterns: [{ pattern: 'secret-\\d+', replacement: '***' }, { pattern: 'bob', flags: 'i' }] }, NO_COALESCE]);
    x.p.push({ type: 'thinking', text: 'BOB said secret-12' });
    x.p.push(d('ok secret-'));
    x.p.push(d('9 bo'));
    x.p.end();
    expect(textOf(x.out, 'thinking')).toBe('[redacted] said ***');
    // All the thinking came out before the first delta.
    expect(x.out.findLastIndex((e) => e.type === 'thinking')).toBeLessThan(x.out.findIndex((e) => e.type === 'delta'));
    expect(textOf(x.out)).toBe('ok *** bo');
  });

  it('the hold-back is bounded: a would-be match longer than maxHoldChars is let go', () => {
    const x = pipelineOf([{ type: 'redact', builtins: ['email'], maxHoldChars: 64 }, NO_COALESCE]);
    let pushed = 0;
    for (let i = 0; i < 100; i++) {
      x.p.push(d('abcdefghij'));
      pushed += 10;
      expect(pushed - textOf(x.out).length).toBeLessThanOrEqual(64);
    }
  });

  const patterns = compilePatterns({ builtins: ['email', 'keys'], patterns: [{ pattern: '(?<=id=)\\d{3,}', flags: '', replacement: '#' }] });
  const oneShot = (text: string) => patterns.reduce((t, p) => t.replace(p.match, p.replacement), text);
  const streamed = (pieces: string[]) => {
    const chain = patterns.map((p) => new StreamRedactor(p, 1024));
    let out = '';
    for (const t of pieces) out += chain.reduce((x, r) => r.push(x), t);
    return out + chain.reduce((x, r) => r.push(x) + r.end(), '');
  };
  // Text made of the pieces of matches (and near misses), cut anywhere.
  const pieceArb = fc.array(fc.oneof(fc.constantFrom('a.b@x.io', 'sk-ABCDEFGHIJKLMNOPQRST', 'AKIAABCDEFGHIJKLMNOP', 'id=1234', 'a.b', '@', 'x.io', 'sk-', 'AKIA', 'ghp_', 'id=', '123', ' ', '\n', 'é', '😀', '-', '_', 'Q', 'ABCDEFGHIJKLMNOPQRST'), fc.string({ maxLength: 6 })), { maxLength: 30 }).map((a) => a.join(''));
  const split = (text: string, cuts: number[]) => {
    const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
    return [0, ...at, text.length].slice(1).map((end, i, arr) => text.slice(i === 0 ? 0 : arr[i - 1], end));
  };

  it('property: redaction never changes text that contains no match, however it is split', () => {
    fc.assert(
      fc.property(pieceArb, fc.array(fc.nat(), { maxLength: 10 }), (text, cuts) => {
        fc.pre(oneShot(text) === text);
        expect(streamed(split(text, cuts))).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it('property: streamed redaction equals redacting the whole text at once, however it is split', () => {
    let withMatches = 0;
    fc.assert(
      fc.property(pieceArb, fc.array(fc.nat(), { maxLength: 10 }), (text, cuts) => {
        if (oneShot(text) !== text) withMatches++;
        expect(streamed(split(text, cuts))).toBe(oneShot(text));
      }),
      { numRuns: 500 },
    );
    // Not vacuous: a good share of the texts had something to redact.
    expect(withMatches).toBeGreaterThan(50);
  });
});

describe('max-output guard', () => {
  it('cuts at the cap and finishes with length', () => {
    const x = run([{ type: 'max-output', maxChars: 10 }], ['abcd', 'efgh', 'ijkl', 'mnop']);
    expect(textOf(x.out)).toBe('abcdefghij');
    expect(x.finished).toEqual(['length']);
  });

  it('counts reasoning and tool arguments too; maxTokens is 4 characters a token; never splits a surrogate pair', () => {
    const x = pipelineOf([{ type: 'max-output', maxTokens: 2 }, NO_COALESCE]);
    x.p.push({ type: 'thinking', text: 'abc' });
    x.p.push({ type: 'tool_call', index: 0, name: 'f', arguments: '{}' });
    x.p.push(d('xy😀z'));
    expect(x.out.at(-1)).toEqual(d('xy'));
    expect(x.finished).toEqual(['length']);
  });

  it('exactly at the cap is not over it', () => {
    const x = run([{ type: 'max-output', maxChars: 4 }], ['ab', 'cd']);
    expect(textOf(x.out)).toBe('abcd');
    expect(x.finished).toEqual([]);
  });
});

describe('finish inside a pipeline', () => {
  it('drops what earlier processors hold (it came after the stop) and flushes later ones', () => {
    vi.useFakeTimers();
    const x = pipelineOf([{ type: 'redact', builtins: ['email'] }, { type: 'stop', sequences: ['END'] }, { type: 'coalesce', windowMs: 50 }]);
    x.p.push(d('one two END three'));
    // "three" is held by redact (it could start an address) and must never appear; "one two " was held by coalesce.
    expect(textOf(x.out)).toBe('one two ');
    expect(x.finished).toEqual(['stop']);
    x.p.push(d('more'));
    x.p.end();
    vi.advanceTimersByTime(100);
    expect(textOf(x.out)).toBe('one two ');
  });
});

describe('coalescing', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('merges what arrives within the window into one event per kind run, in order', () => {
    vi.useFakeTimers();
    const x = pipelineOf([{ type: 'coalesce', windowMs: 10 }]);
    x.p.push({ type: 'thinking', text: 'a' });
    x.p.push({ type: 'thinking', text: 'b' });
    x.p.push(d('c'));
    x.p.push(d('d'));
    x.p.push({ type: 'tool_call', index: 0, id: 'i', name: 'f', arguments: '{"' });
    x.p.push({ type: 'tool_call', index: 0, arguments: 'x"}' });
    x.p.push({ type: 'tool_call', index: 1, id: 'j', name: 'g', arguments: '' });
    expect(x.out).toEqual([]);
    vi.advanceTimersByTime(10);
    expect(x.out).toEqual([{ type: 'thinking', text: 'ab' }, d('cd'), { type: 'tool_call', index: 0, id: 'i', name: 'f', arguments: '{"x"}' }, { type: 'tool_call', index: 1, id: 'j', name: 'g', arguments: '' }]);
    x.p.push(d('e'));
    x.p.end();
    expect(x.out.at(-1)).toEqual(d('e'));
  });

  it('uses COALESCE_MS by default and 0 passes straight through', () => {
    vi.useFakeTimers();
    const x = pipelineOf([]);
    x.p.push(d('a'));
    vi.advanceTimersByTime(9);
    expect(x.out).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(x.out).toEqual([d('a')]);
    const y = pipelineOf([NO_COALESCE]);
    y.p.push(d('b'));
    expect(y.out).toEqual([d('b')]);
  });
});

describe('processor configuration is checked at start-up, errors name the route and processor', () => {
  const fails = (processors: object[], message: RegExp) => {
    try {
      pipelineOf(processors);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toMatch(message);
    }
  };
  it.each([
    [[{ type: 'nope' }], /ROUTES_JSON: route r\.processors\.0 \(nope\): unknown processor \(known: coalesce, stop, redact, max-output\)/],
    [[{ type: 'stop', sequences: [] }], /route r\.processors\.0 \(stop\): sequences:/],
    [[NO_COALESCE, { type: 'redact', patterns: [{ pattern: '(' }] }], /route r\.processors\.1 \(redact\): patterns\.0: Invalid regular expression/],
    [[{ type: 'redact', patterns: [{ pattern: '(a)\\1' }] }], /patterns\.0: backreferences are not supported/],
    [[{ type: 'redact', patterns: [{ pattern: 'a*' }] }], /patterns\.0: pattern matches the empty string/],
    [[{ type: 'redact', patterns: [{ pattern: 'a', flags: 'g' }] }], /patterns\.0\.flags/],
    [[{ type: 'redact' }], /name at least one of builtins or patterns/],
    [[{ type: 'max-output', maxChars: 5, maxTokens: 5 }], /exactly one of maxChars and maxTokens/],
    [[{ type: 'coalesce', windowMs: 5, extra: 1 }], /route r\.processors\.0 \(coalesce\)/],
  ])('%j', (processors, message) => fails(processors, message));
});

describe('the documented example processor (docs/examples/trim-start.ts)', () => {
  it('is the code docs/providers.md shows', () => {
    const doc = readFileSync(new URL('../../docs/providers.md', import.meta.url), 'utf8');
    const file = readFileSync(new URL('../../docs/examples/trim-start.ts', import.meta.url), 'utf8');
    expect(doc).toContain(['```ts', file.trimEnd(), '```'].join('\n'));
  });

  it('drops leading whitespace across deltas and nothing else, once plugged in', () => {
    const x = pipelineOf([{ type: 'trim-start' }, NO_COALESCE], [trimStart]);
    for (const t of ['\n', '  \n', ' Hello', ' world\n']) x.p.push(d(t));
    x.p.end();
    expect(textOf(x.out)).toBe('Hello world\n');
    expect(() => pipelineOf([{ type: 'trim-start', thinking: 'yes' }], [trimStart])).toThrow(/trim-start\): thinking/);
  });
});
