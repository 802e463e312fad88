/**
 * Tools in the native request (issue 21): the neutral shapes clients send, the edge validates
 * (services/edge/src/routes/tools-schema.ts) and ingest maps onto each provider's own
 * (services/ingest/src/providers/tools.ts).
 */

/** A function the model may call. `parameters` is a JSON Schema of `type: 'object'`. */
export interface ToolDefinition {
  name: string;
  description?: string | undefined;
  parameters: Record<string, unknown>;
}

/** `auto`: the model decides; `none`: no call; `required`: some call; `{name}`: that tool. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** A call the model made in an earlier turn; `arguments` is its JSON object as a string. */
export interface ToolCallRecord {
  id: string;
  name: string;
  arguments: string;
}

/** One message of a native request: text, an assistant turn that called tools, or a tool's result. */
export type JobMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: ToolCallRecord[] | undefined }
  | { role: 'tool'; toolCallId: string; content: string };

/** The tool calls of a message (none for every role but an assistant that called tools). */
export function toolCallsOf(m: JobMessage): ToolCallRecord[] {
  return m.role === 'assistant' ? (m.toolCalls ?? []) : [];
}

/** The name of the tool whose call `toolCallId` answers, from the assistant turns before it. */
export function toolNameOf(messages: readonly JobMessage[], toolCallId: string): string | undefined {
  for (const m of messages) for (const c of toolCallsOf(m)) if (c.id === toolCallId) return c.name;
  return undefined;
}
