import type { Usage } from '@relaycast/protocol';
import { CONTENT, RESTARTED, emptyAnswer, fold, type NativeData } from './answer.js';
import type { NativeEvent } from './stream.js';

export type UiChunk = Record<string, unknown> & { type: string };

const FINISH: Record<string, string> = { stop: 'stop', length: 'length', tool_calls: 'tool-calls', content_filter: 'content-filter' };

/**
 * Native events → AI SDK UI message chunks (the `ai` package's uiMessageChunkSchema). A pure function of
 * the native sequence, so every replay of a turn, on any edge and in any tab, is the identical sequence:
 * the AI SDK treats a reconnect as a complete replay from `start`.
 */
export class UiChunks {
  private part: { kind: 'text' | 'reasoning' | 'tool'; id: string; toolName?: string; input?: string } | undefined;
  private parts = 0;
  private content = false;
  private usage: Usage | undefined;

  constructor(private readonly sessionId: string) {}

  start(): UiChunk[] {
    return [{ type: 'start', messageId: `msg_${this.sessionId}` }, { type: 'start-step' }];
  }

  event(n: NativeEvent): UiChunk[] {
    const a = emptyAnswer();
    fold(a, n);
    if (n.type === 'gap') return [...this.close(), { type: 'error', errorText: a.error!.message }];
    const data = JSON.parse(n.data) as NativeData;
    if (CONTENT.has(n.type)) this.content = true;
    switch (n.type) {
      case 'delta': return this.delta('text', data.text);
      case 'thinking': return this.delta('reasoning', data.text);
      case 'tool_call': return this.tool(data);
      case 'usage': this.usage = a.usage; return [];
      case 'reset': return this.content ? [...this.close(), { type: 'error', errorText: RESTARTED.message }] : [];
      case 'done': {
        const usage = a.usage ?? this.usage;
        const metadata = { sessionId: this.sessionId, ...(usage ? { usage: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens } } : {}) };
        return [...this.close(), { type: 'finish-step' }, { type: 'finish', finishReason: FINISH[a.finishReason ?? 'stop'] ?? 'other', messageMetadata: metadata }];
      }
      case 'error': return [...this.close(), { type: 'error', errorText: `${a.error!.code}: ${a.error!.message}` }];
      case 'cancelled': return [...this.close(), { type: 'abort', reason: a.cancelled! }];
      default: return [];
    }
  }

  private delta(kind: 'text' | 'reasoning', text: string): UiChunk[] {
    const out = this.part?.kind === kind ? [] : this.open(kind);
    out.push({ type: `${kind}-delta`, id: this.part!.id, delta: text });
    return out;
  }

  private tool(d: { index: number; id?: string; name?: string; arguments: string }): UiChunk[] {
    const id = d.id ?? `call_${this.sessionId}_${d.index}`;
    const out = this.part?.kind === 'tool' && (d.id === undefined || this.part.id === d.id) ? [] : this.open('tool', id, d.name ?? '');
    const p = this.part!;
    p.input += d.arguments;
    if (d.arguments) out.push({ type: 'tool-input-delta', toolCallId: p.id, inputTextDelta: d.arguments });
    return out;
  }

  private open(kind: 'text' | 'reasoning' | 'tool', toolCallId?: string, toolName?: string): UiChunk[] {
    const out = this.close();
    if (kind === 'tool') {
      this.part = { kind, id: toolCallId!, toolName: toolName!, input: '' };
      out.push({ type: 'tool-input-start', toolCallId, toolName, dynamic: true });
    } else {
      this.part = { kind, id: `${kind}_${this.parts++}` };
      out.push({ type: `${kind}-start`, id: this.part.id });
    }
    return out;
  }

  private close(): UiChunk[] {
    const p = this.part;
    this.part = undefined;
    if (!p) return [];
    if (p.kind !== 'tool') return [{ type: `${p.kind}-end`, id: p.id }];
    let input: unknown = p.input;
    try {
      input = JSON.parse(p.input || '{}');
    } catch {
      /* not JSON: handed over as the text it is */
    }
    return [{ type: 'tool-input-available', toolCallId: p.id, toolName: p.toolName, input, dynamic: true }];
  }
}
