import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mockPlan } from '../../services/mock-model/src/plan.js';
import { firstStop, readStops } from '../../services/mock-model/src/stop.js';

const plan = mockPlan('where the stop falls', 3, 60, { reasoning: 1, tools: 1 });
const tokens = [...plan.steps()].flatMap((s) => (s.kind === 'text' ? [s.text] : []));
const text = tokens.join('');

describe('the mock model’s stop sequences', () => {
  it('property: the answer ends at the first token that completes a sequence, at the earliest occurrence then, across token edges', () => {
    // The text after each token, as a server checking stop sequences token by token sees it.
    const prefixes: string[] = [];
    for (const t of tokens) prefixes.push((prefixes.at(-1) ?? '') + t);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: text.length - 1 }), fc.integer({ min: 1, max: 12 }), fc.string({ maxLength: 3 }), (from, len, other) => {
        const seqs = other ? [other, text.slice(from, from + len)] : [text.slice(from, from + len)];
        const seen = prefixes.find((p) => seqs.some((s) => p.includes(s)))!;
        const hit = firstStop(plan, seqs)!;
        expect(hit.at).toBe(Math.min(...seqs.map((s) => seen.indexOf(s)).filter((i) => i >= 0)));
        expect(text.startsWith(hit.sequence, hit.at)).toBe(true);
      }),
    );
  });

  it('reasoning and tool arguments are not the answer; no sequence, no stop', () => {
    expect(firstStop(plan, ['{"query"'])).toBeUndefined();
    expect(firstStop(plan, [])).toBeUndefined();
  });

  it('reads each format’s field as its server does', () => {
    expect(readStops('x', 'stop', { single: true })).toEqual(['x']);
    expect(readStops('x', 'stop_sequences')).toMatch(/array of strings/);
    expect(readStops(['a', 'b', 'c', 'd', 'e'], 'stop', { single: true, max: 4 })).toMatch(/maximum length 4/);
    expect(readStops(null, 'stop')).toBeUndefined();
    expect(readStops([1], 'options.stop')).toMatch(/^options.stop/);
  });
});
