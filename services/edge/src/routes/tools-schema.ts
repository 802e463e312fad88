import { z } from 'zod';
import { toolCallsOf, type JobMessage, type ToolChoice, type ToolDefinition } from '@relaycast/protocol';
import type { Route } from '@relaycast/shared';

/** OpenAI's rule for function names, which every provider Relaycast speaks accepts. */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
/** Call ids as Anthropic accepts them (OpenAI's and Relaycast's own fit), so a round trip works on any route. */
export const TOOL_CALL_ID = /^[a-zA-Z0-9_-]{1,128}$/;
export const MAX_TOOLS = 64;
/** One tool's `parameters` as JSON; what an OpenAI function schema of a few dozen fields takes, with room. */
export const MAX_TOOL_SCHEMA_CHARS = 16_384;
export const MAX_TOOL_DESCRIPTION_CHARS = 4_096;
export const MAX_CALLS_PER_MESSAGE = 64;

/** The empty object schema: what a tool without parameters takes. */
export const NO_PARAMETERS = { type: 'object', properties: {} };

const isJsonObject = (s: string): boolean => {
  try {
    const v: unknown = JSON.parse(s);
    return !!v && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
};

export const toolName = z.string().regex(TOOL_NAME, 'a tool name of letters, digits, _ and - (1 to 64)');
export const toolCallId = z.string().regex(TOOL_CALL_ID, 'a tool call id of letters, digits, _ and - (1 to 128)');

/** A JSON Schema of an object (what every provider's function parameters must be), bounded in size. */
export const toolParameters = z
  .record(z.string(), z.unknown())
  .refine((p) => p.type === 'object', 'a JSON Schema with type "object"')
  .refine((p) => JSON.stringify(p).length <= MAX_TOOL_SCHEMA_CHARS, `at most ${MAX_TOOL_SCHEMA_CHARS} characters as JSON`);

export const toolDefinition = z.strictObject({
  name: toolName,
  description: z.string().max(MAX_TOOL_DESCRIPTION_CHARS).optional(),
  parameters: toolParameters.optional(),
});

export const toolsSchema = z.array(toolDefinition).max(MAX_TOOLS);
export const toolChoiceSchema = z.union([z.enum(['auto', 'none', 'required']), z.strictObject({ name: toolName })]);

/** The native messages: text, an assistant turn that called tools, a tool's result. */
export function messageSchema(maxChars: number) {
  const content = z.string().max(maxChars);
  const toolCall = z.strictObject({ id: toolCallId, name: toolName, arguments: z.string().max(maxChars).refine(isJsonObject, 'a JSON object as a string') });
  return z.discriminatedUnion('role', [
    z.strictObject({ role: z.enum(['system', 'user']), content }),
    // An assistant turn that only called tools has no text: its content may be left out.
    z.strictObject({ role: z.literal('assistant'), content: content.default(''), toolCalls: z.array(toolCall).min(1).max(MAX_CALLS_PER_MESSAGE).optional() }),
    z.strictObject({ role: z.literal('tool'), toolCallId, content }),
  ]);
}

const TOOL_FIELDS = new Set(['tools', 'tool_choice', 'toolCalls', 'toolCallId']);

/** Whether a schema failure is about tools (answered `invalid_tool` rather than `invalid_request`). */
export function isToolIssue(issue: z.core.$ZodIssue, body: unknown): boolean {
  if (issue.path.some((p) => typeof p === 'string' && TOOL_FIELDS.has(p))) return true;
  if (issue.code === 'unrecognized_keys' && issue.keys.some((k) => TOOL_FIELDS.has(k))) return true;
  // A `tool` message missing its id fails as a union member; its role says what it was.
  const [field, i] = issue.path;
  if (field !== 'messages' || typeof i !== 'number') return false;
  const m = (body as { messages?: unknown[] } | undefined)?.messages?.[i] as Record<string, unknown> | undefined;
  return m?.role === 'tool' || (m?.role === 'assistant' && m.toolCalls !== undefined);
}

/** What a request carries about tools, once its schema passed. */
export interface ToolsRequest {
  messages: JobMessage[];
  tools?: { name: string; description?: string | undefined; parameters?: Record<string, unknown> | undefined }[] | undefined;
  tool_choice?: ToolChoice | undefined;
}

/**
 * What the schema cannot say: names unique, a chosen tool among those offered, every tool result answering
 * a call made before it, and a route whose format can carry tools. Returns the reason, or undefined.
 */
export function toolProblem(r: ToolsRequest, route: Route | undefined): string | undefined {
  const names = new Set<string>();
  for (const [i, t] of (r.tools ?? []).entries()) {
    if (names.has(t.name)) return `tools.${i}.name: ${JSON.stringify(t.name)} is defined twice`;
    names.add(t.name);
  }
  const c = r.tool_choice;
  if ((c === 'required' || typeof c === 'object') && names.size === 0) return 'tool_choice: names a tool call but no tools are defined';
  if (typeof c === 'object' && !names.has(c.name)) return `tool_choice.name: no tool named ${JSON.stringify(c.name)}`;
  const calls = new Set<string>();
  let roundTrip = false;
  for (const [i, m] of r.messages.entries()) {
    for (const call of toolCallsOf(m)) calls.add(call.id);
    if (m.role === 'assistant' && m.toolCalls) roundTrip = true;
    if (m.role === 'tool' && !calls.has(m.toolCallId)) return `messages.${i}.toolCallId: answers no tool call of an earlier assistant message`;
  }
  if (route?.provider === 'sse' && (names.size > 0 || roundTrip)) return 'this model is a plain SSE source: it cannot take tools';
  return undefined;
}

/** The job's tool fields: absent when no tools are offered (a choice alone means nothing). */
export function jobTools(r: Pick<ToolsRequest, 'tools' | 'tool_choice'>): { tools?: ToolDefinition[]; toolChoice?: ToolChoice } {
  if (!r.tools?.length) return {};
  const tools = r.tools.map((t) => ({ name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), parameters: t.parameters ?? NO_PARAMETERS }));
  return { tools, ...(r.tool_choice !== undefined ? { toolChoice: r.tool_choice } : {}) };
}
