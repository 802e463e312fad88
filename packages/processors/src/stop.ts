import { z } from 'zod';
import { defineProcessor, type ProcessorOutput, type StreamEvent } from './processor.js';

/**
 * The `stop` processor: ends the answer at the first of `sequences` (the sequence itself is not sent) with
 * `done {finishReason: 'stop'}`, and the upstream request is aborted. A sequence split across deltas is
 * found because the longest end of the text that could begin a sequence is held back until the next delta.
 */
export const stopSequences = defineProcessor({
  type: 'stop',
  options: z.strictObject({ sequences: z.array(z.string().min(1).max(1_000)).min(1).max(16) }),
  setup({ sequences }) {
    return () => {
      let held = '';
      const release = (out: ProcessorOutput) => {
        if (held) out.emit({ type: 'delta', text: held });
        held = '';
      };
      return {
        event(e: StreamEvent, out: ProcessorOutput) {
          // Stop sequences apply to the answer; a sequence cannot span another kind of event.
          if (e.type !== 'delta') {
            release(out);
            return out.emit(e);
          }
          const text = held + e.text;
          let at = -1;
          for (const s of sequences) {
            const i = text.indexOf(s);
            if (i >= 0 && (at < 0 || i < at)) at = i;
          }
          if (at >= 0) {
            held = '';
            if (at > 0) out.emit({ type: 'delta', text: text.slice(0, at) });
            return out.finish('stop');
          }
          const keep = longestPrefixSuffix(text, sequences);
          held = text.slice(text.length - keep);
          if (keep < text.length) out.emit({ type: 'delta', text: text.slice(0, text.length - keep) });
        },
        end: release,
      };
    };
  },
});

/** Length of the longest end of `text` that is a proper beginning of one of `sequences`. */
export function longestPrefixSuffix(text: string, sequences: readonly string[]): number {
  let best = 0;
  for (const s of sequences) {
    for (let k = Math.min(s.length - 1, text.length); k > best; k--) {
      if (text.endsWith(s.slice(0, k))) {
        best = k;
        break;
      }
    }
  }
  return best;
}
