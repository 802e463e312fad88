import type { JobMessage, ToolCallRecord } from '@relaycast/protocol';

/** A UI message as the AI SDK sends it: its parts are read loosely (each part type has its own fields). */
interface UiMessage {
  role: 'system' | 'user' | 'assistant';
  parts: ({ type: string; text?: string | undefined } & Record<string, unknown>)[];
}

/** A tool part (`tool-<name>`, or `dynamic-tool` as Relaycast streams calls) whose call has its result. */
function answeredCall(p: UiMessage['parts'][number]): { call: ToolCallRecord; result: string } | undefined {
  const name = p.type === 'dynamic-tool' ? p.toolName : p.type.startsWith('tool-') ? p.type.slice(5) : undefined;
  if (typeof name !== 'string' || typeof p.toolCallId !== 'string') return undefined;
  if (p.state !== 'output-available' && p.state !== 'output-error') return undefined;
  const result = p.state === 'output-error' ? `error: ${String(p.errorText ?? '')}` : typeof p.output === 'string' ? p.output : JSON.stringify(p.output ?? null);
  return { call: { id: p.toolCallId, name, arguments: JSON.stringify(p.input ?? {}) }, result };
}

/**
 * An assistant UI message as native messages: its text, and each step's answered tool calls as the calls
 * of an assistant turn followed by their results (a step that called tools ends the turn; the next text
 * starts another). Calls without a result yet, reasoning and step parts are not sent back.
 */
function assistantMessages(m: UiMessage): JobMessage[] {
  const out: JobMessage[] = [];
  let text = '';
  let answered: { call: ToolCallRecord; result: string }[] = [];
  const flush = () => {
    if (answered.length) {
      out.push({ role: 'assistant', content: text, toolCalls: answered.map((a) => a.call) });
      for (const a of answered) out.push({ role: 'tool', toolCallId: a.call.id, content: a.result });
    } else if (text) out.push({ role: 'assistant', content: text });
    text = '';
    answered = [];
  };
  for (const p of m.parts) {
    if (p.type === 'text') {
      if (answered.length) flush();
      text += p.text ?? '';
      continue;
    }
    const a = answeredCall(p);
    if (a) answered.push(a);
  }
  flush();
  return out;
}

/** The UI messages as native ones: text, and the tool round trips of earlier turns. Undefined (with the index) for a file part. */
export function uiMessages(messages: UiMessage[]): JobMessage[] | { filePart: number } {
  const out: JobMessage[] = [];
  for (const [i, m] of messages.entries()) {
    if (m.parts.some((p) => p.type === 'file')) return { filePart: i };
    if (m.role === 'assistant') {
      for (const x of assistantMessages(m)) out.push(x);
      continue;
    }
    const text = m.parts.filter((p) => p.type === 'text').map((p) => p.text ?? '').join('');
    if (text) out.push({ role: m.role, content: text });
  }
  return out;
}
