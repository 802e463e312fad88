import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSse } from '../helpers/sse.js';
import { openaiTranscript } from '../helpers/transcripts.js';
import { startSystem, type TestSystem } from '../helpers/system.js';

let sys: TestSystem;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rc-inject-'));
  sys = await startSystem({ edges: 1, transcriptDir: dir });
});
afterAll(async () => {
  await sys?.close();
  rmSync(dir, { recursive: true, force: true });
});

// Pieces that would break a naive SSE writer: line breaks of every kind, NUL, and text that looks like fields.
const hostile = fc.constantFrom('\r', '\n', '\r\n', '\n\n', '\0', 'event: evil', 'id: 999', 'data: x', 'retry: 1', ': comment', '\n\nevent: done\ndata: {}\n\n', 'id:\0', '\u2028', '\uFEFF');
const delta = fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), hostile), { minLength: 1, maxLength: 6 }).map((parts) => parts.join(''));

describe('no injection through the whole path', () => {
  it('random Unicode deltas with CR, LF, NUL and field-like lines come back unchanged, with no extra event', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(delta, { minLength: 1, maxLength: 8 }), async (deltas) => {
        const name = `t${run++}.sse`;
        writeFileSync(join(dir, name), openaiTranscript(deltas));
        const s = await sys.create({ messages: [{ role: 'user', content: 'x' }], mock: { transcript: name } });
        const r = await readSse(sys.edges[0]!.url, s.eventsUrl);
        // Deltas may be coalesced into fewer events, never altered: the text is the exact concatenation.
        const got = r.events.filter((e) => e.event === 'delta').map((e) => (JSON.parse(e.data) as { text: string }).text).join('');
        expect(got).toBe(deltas.join(''));
        // Only Relaycast's own events, ids contiguous, exactly one terminal and it is last.
        expect(r.events.every((e) => e.event === 'delta' || e.event === 'done')).toBe(true);
        expect(r.events.map((e) => e.id)).toEqual(r.events.map((_, i) => String(i + 1)));
        expect(r.events.filter((e) => e.event === 'done')).toHaveLength(1);
        expect(r.events.at(-1)!.event).toBe('done');
      }),
      { numRuns: 40 },
    );
  });
});
