import { CONTENT_TYPES, parseEvent, type Usage } from '@relaycast/protocol';
import type { NativeEvent } from './stream.js';

/** A session's answer so far, folded from its native events (what every non-streaming answer reports). */
export interface Answer {
  text: string;
  reasoning: string;
  toolCalls: { index: number; id?: string; name?: string; arguments: string }[];
  usage?: Usage;
  finishReason?: string;
  error?: { code: string; message: string };
  cancelled?: string;
  /** Whether the terminal event arrived. */
  ended: boolean;
}

export const emptyAnswer = (): Answer => ({ text: '', reasoning: '', toolCalls: [], ended: false });

/** Folds one native event in; a `reset` (a new attempt) starts the answer over, as the native status does. */
export function fold(a: Answer, n: NativeEvent): void {
  if (n.type === 'gap') {
    a.error = { code: 'stream_gap', message: 'part of this generation was lost from storage' };
    return;
  }
  const e = parseEvent(n.type, n.data);
  switch (e.type) {
    case 'delta': a.text += e.text; break;
    case 'thinking': a.reasoning += e.text; break;
    case 'tool_call': {
      let call = a.toolCalls.find((c) => c.index === e.index);
      if (!call) a.toolCalls.push((call = { index: e.index, arguments: '' }));
      if (e.id !== undefined) call.id = e.id;
      if (e.name !== undefined) call.name = e.name;
      call.arguments += e.arguments;
      break;
    }
    case 'reset': a.text = ''; a.reasoning = ''; a.toolCalls = []; break;
    case 'usage': a.usage = { inputTokens: e.inputTokens, outputTokens: e.outputTokens, estimated: e.estimated }; break;
    case 'done': a.finishReason = e.finishReason; if (e.usage) a.usage = e.usage; a.ended = true; break;
    case 'error': a.error = { code: e.code, message: e.message }; a.ended = true; break;
    case 'cancelled': a.cancelled = e.reason; a.ended = true; break;
    case 'gap': break;
  }
}

/** Content events: after one of them a `reset` cannot be expressed by a protocol that only appends. */
export const CONTENT: ReadonlySet<string> = CONTENT_TYPES;

/** A session id inside a compatible id (`chatcmpl-<id>`, `resp_<id>`, `msg_<id>`). */
export const SESSION_HEADER = 'X-Relaycast-Session-Id';

/** What a reset after content is reported as, by every surface that cannot take back what it sent. */
export const RESTARTED = { code: 'generation_restarted' as const, message: 'the generation was restarted after a failure and what was streamed is void; read the final answer again' };

/** The fields of a native event's data that the mappers read (which ones exist depends on its type). */
export interface NativeData {
  text: string;
  index: number;
  id?: string;
  name?: string;
  arguments: string;
}
