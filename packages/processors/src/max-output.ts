import { z } from 'zod';
import { contentText } from '@relaycast/protocol';
import { defineProcessor, type ProcessorOutput, type StreamEvent } from './processor.js';

/** Roughly 4 characters per token: the output cap's `maxTokens`, and ingest's usage estimate when a provider never reports it. */
export const CHARS_PER_TOKEN = 4;

/**
 * The `max-output` processor: a cap on generated characters (answer, reasoning and tool-call arguments
 * together). The event that crosses it is cut at the cap, then the session ends with
 * `done {finishReason: 'length'}` and the upstream request is aborted. `maxTokens` is converted with the
 * same characters-per-token estimate as estimated usage.
 */
export const maxOutput = defineProcessor({
  type: 'max-output',
  options: z
    .strictObject({ maxChars: z.number().int().min(1).optional(), maxTokens: z.number().int().min(1).optional() })
    .refine((o) => (o.maxChars === undefined) !== (o.maxTokens === undefined), 'set exactly one of maxChars and maxTokens'),
  setup(o) {
    const cap = o.maxChars ?? o.maxTokens! * CHARS_PER_TOKEN;
    return () => {
      let used = 0;
      return {
        event(e: StreamEvent, out: ProcessorOutput) {
          const text = contentText(e);
          if (used + text.length <= cap) {
            used += text.length;
            return out.emit(e);
          }
          const room = cutPoint(text, cap - used);
          used = cap;
          if (room > 0) {
            if (e.type === 'tool_call') out.emit({ ...e, arguments: text.slice(0, room) });
            else out.emit({ ...e, text: text.slice(0, room) } as StreamEvent);
          }
          out.finish('length');
        },
        end() {},
      };
    };
  },
});

/** `n`, moved back one if it would split a surrogate pair. */
function cutPoint(text: string, n: number): number {
  const c = text.charCodeAt(n - 1);
  return n > 0 && c >= 0xd800 && c <= 0xdbff ? n - 1 : n;
}
