import type { EventPayloads, EventType, StreamEvent, StreamEventOf, ToolCall, Usage } from './types.js';

/** What a session's events add up to, as the client shows it. */
export class Answer {
  /** Deltas since the last `reset`. */
  text = '';
  thinking = '';
  readonly toolCalls = new Map<number, ToolCall>();
  readonly gaps: EventPayloads['gap'][] = [];
  usage: Usage | undefined;

  apply(e: StreamEvent): void {
    switch (e.type) {
      case 'delta':
        this.text += e.text;
        break;
      case 'reset':
        // A new attempt restarts the answer (README, Events): what came before it is discarded.
        this.text = '';
        this.thinking = '';
        this.toolCalls.clear();
        break;
      case 'gap':
        this.gaps.push({ requested: e.requested, resumedFrom: e.resumedFrom });
        break;
      case 'usage':
        this.usage = { inputTokens: e.inputTokens, outputTokens: e.outputTokens, estimated: e.estimated };
        break;
      case 'thinking':
        this.thinking += e.text;
        break;
      case 'tool_call':
        this.addToolCall(e);
        break;
      default:
        break;
    }
  }

  private addToolCall(e: StreamEventOf<'tool_call'>): void {
    const call = this.toolCalls.get(e.index) ?? { index: e.index, arguments: '' };
    // The first non-empty id and name stand: OpenAI-format servers send "" on continuation pieces.
    if (e.callId && !call.id) call.id = e.callId;
    if (e.name && !call.name) call.name = e.name;
    call.arguments += e.arguments;
    this.toolCalls.set(e.index, call);
  }
}

/** The fields the client relies on, checked so a corrupt frame is reported instead of printed as "undefined". */
export function validPayload(type: EventType, d: Record<string, unknown>): boolean {
  switch (type) {
    case 'delta':
    case 'thinking':
      return typeof d.text === 'string';
    case 'reset':
      return typeof d.attempt === 'number';
    case 'gap':
      return typeof d.requested === 'string' && typeof d.resumedFrom === 'string';
    case 'error':
      return typeof d.code === 'string' && typeof d.message === 'string';
    case 'tool_call':
      return typeof d.index === 'number' && typeof d.arguments === 'string';
    default:
      return true;
  }
}
