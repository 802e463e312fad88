import { z } from 'zod';
import { defineProcessor } from '@relaycast/processors';

/**
 * `trim-start`: drops the whitespace some models send before the first visible character of the answer
 * (and, with `thinking: true`, of the reasoning).
 */
export const trimStart = defineProcessor({
  type: 'trim-start',
  // The route's options, minus `type`: `{"type": "trim-start", "thinking": true}`.
  options: z.strictObject({ thinking: z.boolean().default(false) }),
  // Runs once per route at start-up (throw here to refuse the options); returns the per-session constructor.
  setup(options) {
    return () => {
      // Per-session state: which kinds of text have started.
      const started = { delta: false, thinking: !options.thinking };
      return {
        event(e, out) {
          if ((e.type === 'delta' || e.type === 'thinking') && !started[e.type]) {
            const text = e.text.trimStart();
            if (!text) return; // only whitespace so far: emit nothing
            started[e.type] = true;
            return out.emit({ ...e, text });
          }
          out.emit(e); // everything else passes unchanged: usage, tool calls, later text
        },
        end() {
          // Nothing is held back, so nothing to flush. A processor that holds text emits it here.
        },
      };
    };
  },
});
