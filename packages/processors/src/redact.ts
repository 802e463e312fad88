import { z } from 'zod';
import { checkStreamable, prefixRegex } from './prefix-regex.js';
import { defineProcessor, type Processor, type ProcessorOutput, type StreamEvent } from './processor.js';

/** Built-in patterns. Key shapes follow each vendor's documented prefix; `keys` means all of them. */
export const BUILTIN_PATTERNS = {
  email: { pattern: '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}', replacement: '[email]' },
  // OpenAI (sk-…, sk-proj-…) and Anthropic (sk-ant-…) secret keys.
  'sk-key': { pattern: '\\bsk-[A-Za-z0-9_-]{20,}', replacement: '[secret]' },
  'aws-access-key': { pattern: '\\b(?:AKIA|ASIA)[0-9A-Z]{16}\\b', replacement: '[secret]' },
  'github-token': { pattern: '\\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})', replacement: '[secret]' },
  'google-api-key': { pattern: '\\bAIza[0-9A-Za-z_-]{35}', replacement: '[secret]' },
  'slack-token': { pattern: '\\bxox[abposr]-[A-Za-z0-9-]{10,}', replacement: '[secret]' },
} as const;
type BuiltinName = keyof typeof BUILTIN_PATTERNS;
const KEY_BUILTINS = (Object.keys(BUILTIN_PATTERNS) as BuiltinName[]).filter((k) => k !== 'email');

/** Text before the held part kept for lookbehinds, `\b` and `^`/`$` with the `m` flag. */
const CONTEXT_CHARS = 64;

const patternSchema = z.strictObject({
  pattern: z.string().min(1).max(2_000),
  /** Any of i, m, s, u. */
  flags: z.string().regex(/^(?!.*(.).*\1)[imsu]*$/, 'any of i, m, s, u, each at most once').default(''),
  /** Literal text put in place of each match. */
  replacement: z.string().max(200).default('[redacted]'),
});

export const redactOptions = z
  .strictObject({
    builtins: z.array(z.enum([...(Object.keys(BUILTIN_PATTERNS) as BuiltinName[]), 'keys'])).default([]),
    patterns: z.array(patternSchema).max(32).default([]),
    /** Longest text held back waiting to see whether it completes a match; past it the oldest part is let go. */
    maxHoldChars: z.number().int().min(16).max(65_536).default(1_024),
  })
  .refine((o) => o.builtins.length + o.patterns.length > 0, 'name at least one of builtins or patterns');
export type RedactOptions = z.infer<typeof redactOptions>;

export interface CompiledPattern {
  /** Finds matches (global). */
  match: RegExp;
  /** Finds the leftmost position from which the rest could still become a match (see prefix-regex.ts). */
  prefix: RegExp;
  replacement: string;
}

/** Checks and compiles patterns once; throws with a message naming the bad one. */
export function compilePatterns(o: Pick<RedactOptions, 'builtins' | 'patterns'>): CompiledPattern[] {
  const names = new Set(o.builtins.flatMap((b) => (b === 'keys' ? KEY_BUILTINS : [b])));
  const specs = [...[...names].map((n) => ({ ...BUILTIN_PATTERNS[n], flags: '', where: `builtin ${n}` })), ...o.patterns.map((p, i) => ({ ...p, where: `patterns.${i}` }))];
  return specs.map((p) => {
    let match: RegExp;
    try {
      match = new RegExp(p.pattern, `${p.flags}g`);
      checkStreamable(p.pattern, p.flags);
    } catch (e) {
      throw new Error(`${p.where}: ${(e as Error).message}`);
    }
    if (new RegExp(`^(?:${p.pattern})$`, p.flags).test('')) throw new Error(`${p.where}: pattern matches the empty string`);
    return { match, prefix: prefixRegex(p.pattern, p.flags), replacement: p.replacement };
  });
}

/**
 * Redacts one pattern from a text that arrives in pieces, with the same result as replacing over the whole
 * text at once: each push releases everything before the leftmost position where a match could still
 * start (or grow), and holds the rest (at most `maxHold` characters).
 */
export class StreamRedactor {
  private context = '';
  private held = '';

  constructor(private readonly p: CompiledPattern, private readonly maxHold: number) {}

  push(text: string): string {
    this.held += text;
    const s = this.context + this.held;
    const from = this.context.length;
    this.p.prefix.lastIndex = from;
    const hold = this.p.prefix.exec(s)?.index ?? s.length;
    // A match that starts before `hold` cannot change with more text (else a match could start there).
    let { out, pos } = this.replace(s, from, (start) => start < hold);
    if (hold > pos) {
      out += s.slice(pos, hold);
      pos = hold;
    }
    // Bounded hold-back: a would-be match longer than maxHold is let go rather than buffered without end.
    const cut = s.length - this.maxHold;
    if (cut > pos) {
      const forced = this.replace(s, pos, (_start, end) => end <= cut);
      out += forced.out + s.slice(forced.pos, Math.max(forced.pos, cut));
      pos = Math.max(forced.pos, cut);
    }
    return this.advance(s, pos, out);
  }

  /** No more text: everything held is final. */
  end(): string {
    const s = this.context + this.held;
    const { out, pos } = this.replace(s, this.context.length, () => true);
    return this.advance(s, s.length, out + s.slice(pos));
  }

  /** Replaces consecutive matches from `from` while `accept` takes them; returns the text up to the last one's end. */
  private replace(s: string, from: number, accept: (start: number, end: number) => boolean): { out: string; pos: number } {
    let out = '';
    let pos = from;
    const re = this.p.match;
    re.lastIndex = from;
    for (let m; (m = re.exec(s)) && accept(m.index, m.index + m[0].length); ) {
      out += s.slice(pos, m.index) + this.p.replacement;
      pos = re.lastIndex = m.index + m[0].length;
    }
    return { out, pos };
  }

  private advance(s: string, released: number, out: string): string {
    this.context = s.slice(Math.max(0, released - CONTEXT_CHARS), released);
    this.held = s.slice(released);
    return out;
  }
}

type TextKind = 'delta' | 'thinking';

/**
 * The `redact` processor: replaces each pattern in `delta` and `thinking` text, also when a match is split
 * across deltas. Text is held back only while it could still be the start of a match; a change of kind
 * (thinking to answer), any other event and the end flush what is held.
 */
export const redact = defineProcessor({
  type: 'redact',
  options: redactOptions,
  setup(o) {
    const patterns = compilePatterns(o);
    return () => {
      let kind: TextKind | undefined;
      let chain: StreamRedactor[] = [];
      const flush = (out: ProcessorOutput) => {
        if (!kind) return;
        let text = '';
        for (const r of chain) text = r.push(text) + r.end();
        if (text) out.emit({ type: kind, text });
        kind = undefined;
      };
      const processor: Processor = {
        event(e: StreamEvent, out) {
          if (e.type !== 'delta' && e.type !== 'thinking') {
            flush(out);
            return out.emit(e);
          }
          if (kind !== e.type) {
            flush(out);
            kind = e.type;
            chain = patterns.map((p) => new StreamRedactor(p, o.maxHoldChars));
          }
          let text = e.text;
          for (const r of chain) text = r.push(text);
          if (text) out.emit({ type: e.type, text });
        },
        end: flush,
      };
      return processor;
    };
  },
});
