import { RegExpParser, type AST } from '@eslint-community/regexpp';

/** Why a pattern cannot be used for streaming redaction. */
export class UnsupportedPatternError extends Error {
  override name = 'UnsupportedPatternError';
}

/** End of input whatever the flags (`$` means end of line under `m`). */
const END = '(?![\\s\\S])';
const MAX_SOURCE = 50_000;

/**
 * Builds the "could still become a match" regex of `source`: it matches at position p exactly when the
 * text from p to the end of the input is a prefix of some match of `source` (over-approximated around
 * lookaheads: they are assumed satisfiable). A streaming redactor holds back from the leftmost such p,
 * which is the shortest suffix that more text could turn into a match; everything before it is final.
 *
 * JavaScript regexes have no partial matching, so the pattern's syntax tree (parsed with regexpp) is
 * rewritten: a sequence x1 x2 … xn becomes  x1 (x2 (… | E(x3)) | E(x2)) | E(x1),  where E(x) matches a
 * proper prefix of x that reaches the end of the input.
 */
export function prefixRegex(source: string, flags: string): RegExp {
  const pattern = new RegExpParser({ ecmaVersion: 2024 }).parsePattern(source, 0, source.length, { unicode: flags.includes('u') });
  const out = alternatives(pattern.alternatives, prefixOf);
  if (out.length > MAX_SOURCE) throw new UnsupportedPatternError('pattern is too complex to match across deltas');
  return new RegExp(out, `${flags.replace(/[gyd]/g, '')}g`);
}

/** Throws {@link UnsupportedPatternError} for constructs whose meaning would change when embedded (backreferences). */
export function checkStreamable(source: string, flags: string): void {
  const pattern = new RegExpParser({ ecmaVersion: 2024 }).parsePattern(source, 0, source.length, { unicode: flags.includes('u') });
  const walk = (n: AST.Node): void => {
    if (n.type === 'Backreference') throw new UnsupportedPatternError('backreferences are not supported');
    if ('alternatives' in n) n.alternatives.forEach(walk);
    if (n.type === 'Alternative') n.elements.forEach(walk);
    if (n.type === 'Quantifier') walk(n.element);
  };
  walk(pattern);
}

const alternatives = (alts: AST.Alternative[], f: (elements: AST.Element[]) => string) => `(?:${alts.map((a) => f(a.elements)).join('|')})`;

/** The element as written, with capturing groups made non-capturing (the rewrite repeats them, and duplicate names are a syntax error). */
function full(n: AST.Element): string {
  switch (n.type) {
    case 'CapturingGroup':
    case 'Group':
      return alternatives(n.alternatives, (es) => es.map(full).join(''));
    case 'Quantifier':
      return `(?:${full(n.element)})${n.raw.slice(n.element.raw.length)}`;
    case 'Assertion':
      if (n.kind === 'lookahead' || n.kind === 'lookbehind') {
        const open = `(?${n.kind === 'lookbehind' ? '<' : ''}${n.negate ? '!' : '='}`;
        return `${open}${n.alternatives.map((a) => a.elements.map(full).join('')).join('|')})`;
      }
      return n.raw;
    case 'Backreference':
      throw new UnsupportedPatternError('backreferences are not supported');
    default:
      return n.raw;
  }
}

/** Matches where the rest of the input is a prefix of a match of the sequence `es`. */
function prefixOf(es: AST.Element[]): string {
  if (es.length === 0) return END;
  const [x, ...rest] = es as [AST.Element, ...AST.Element[]];
  if (x.type === 'Assertion' && x.kind === 'lookahead') return prefixOf(rest); // may hold on more text: assume it can
  if (x.type === 'Assertion' && x.kind === 'lookbehind') return `(?:${full(x)}${prefixOf(rest)})`; // looks only at text we have
  // An edge or word assertion at the end of the input may turn true or false with more text: both ways.
  return `(?:${full(x)}${prefixOf(rest)}|${partial(x)})`;
}

/** Matches a proper prefix of one element that reaches the end of the input (the empty prefix included). */
function partial(x: AST.Element): string {
  switch (x.type) {
    case 'CapturingGroup':
    case 'Group':
      return alternatives(x.alternatives, prefixOf);
    case 'Quantifier': {
      const reps = x.max === Infinity ? '*' : `{0,${x.max}}`;
      return `(?:(?:${full(x.element)})${reps}${partial(x.element)})`;
    }
    default:
      // One character (or class, or assertion): its only proper prefix is the empty one.
      return END;
  }
}
