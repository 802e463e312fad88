import type { MockPlan } from './plan.js';

/**
 * A request's stop sequences from the format's field: a list of strings (and a lone string where the
 * format allows one); the reason as a string when the field is malformed, as the real server refuses it.
 */
export function readStops(v: unknown, field: string, o: { single?: boolean; max?: number } = {}): string[] | string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' && o.single) return [v];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) return `${field}: expected ${o.single ? 'a string or ' : ''}an array of strings`;
  if (o.max !== undefined && v.length > o.max) return `Invalid '${field}': array too long. Expected an array with maximum length ${o.max}, but got an array with length ${v.length} instead.`;
  return v.filter((s: string) => s.length > 0);
}

/**
 * Where the answer ends, as a server that checks the text after each token sees it: at the first token that
 * completes a stop sequence, the earliest occurrence then in the text (at the same offset, the first listed).
 * Returns its offset in the plan's answer text and which sequence. Walks the plan once, holding only the end
 * of the text a sequence could still complete.
 */
export function firstStop(plan: MockPlan, sequences: readonly string[]): { at: number; sequence: string } | undefined {
  if (!sequences.length) return undefined;
  const keep = Math.max(...sequences.map((s) => s.length)) - 1;
  let tail = '';
  let offset = 0; // where `tail` starts in the whole text
  for (const s of plan.steps()) {
    if (s.kind !== 'text') continue;
    const text = tail + s.text;
    let best: { at: number; sequence: string } | undefined;
    for (const q of sequences) {
      const i = text.indexOf(q);
      if (i >= 0 && (best === undefined || i < best.at)) best = { at: i, sequence: q };
    }
    if (best) return { at: offset + best.at, sequence: best.sequence };
    const cut = Math.max(0, text.length - keep);
    offset += cut;
    tail = text.slice(cut);
  }
  return undefined;
}
