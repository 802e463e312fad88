/** Deterministic text: the same prompt and seed always give the same tokens, so tests know the answer. */
const WORDS = 'the a relay stream token model answer quick brown fox jumps over lazy dog river light sound signal browser edge worker queue event cloud data fast slow bright quiet story garden winter summer ocean mountain city night morning echo pixel wave orbit planet forest stone glass paper thread needle window door bridge tower lantern compass harbor meadow valley canyon desert island ember frost thunder'.split(' ');

/** FNV-1a over the prompt and seed. */
function hash(prompt: string, seed: number): number {
  let h = 0x811c9dc5 ^ (seed | 0);
  for (let i = 0; i < prompt.length; i++) h = Math.imul(h ^ prompt.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32: tiny, fast, good enough to pick words. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The prompt as the mock sees it: every message's content, joined by newlines. */
export function promptOf(messages: { content: string }[]): string {
  return messages.map((m) => m.content).join('\n');
}

export function* tokenStream(prompt: string, seed: number, n: number): Generator<string> {
  const next = rng(hash(prompt, seed));
  for (let i = 0; i < n; i++) {
    const w = WORDS[Math.floor(next() * WORDS.length)]!;
    yield i === 0 ? w : ` ${w}`;
  }
}

export function tokensFor(prompt: string, seed: number, n: number): string[] {
  return [...tokenStream(prompt, seed, n)];
}
