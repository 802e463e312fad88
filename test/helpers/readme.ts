import { readFileSync } from 'node:fs';

export interface Snippet {
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  /** Why it is not run, from a `<!-- readme-test: skip (reason) -->` line right before the fence. */
  skip?: string;
}

const SKIP = /^<!--\s*readme-test:\s*skip\s*\((.+)\)\s*-->$/;

/** Every ```bash / ```sh / ```shell block of a Markdown file, in order, with its skip marker if any. */
export function shellSnippets(file: string): Snippet[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`${file}:${i + 1}: code block never closed`);
    if (['bash', 'sh', 'shell'].includes(open[1]!)) {
      const marker = SKIP.exec((lines[i - 1] ?? '').trim());
      out.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n'), ...(marker ? { skip: marker[1]! } : {}) });
    }
    i = end;
  }
  return out;
}
