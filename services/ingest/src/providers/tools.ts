import { toolCallsOf, toolNameOf, type JobMessage, type ToolCallRecord } from '@relaycast/protocol';
import type { GenerateJob } from '@relaycast/shared';

/**
 * The native tools and tool round trip (packages/shared/src/tools.ts) in each provider's request shape,
 * as its official SDK types them (openai, @anthropic-ai/sdk, ollama). A job without tools and without a
 * round trip maps to exactly the messages it had before tools existed.
 */

/** The tools to send: none when the choice is `none` for formats that cannot say it. */
const offered = (job: GenerateJob) => job.tools ?? [];

/** A call's arguments as the object they encode (the edge checked they are one). */
function argsObject(c: ToolCallRecord): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(c.arguments);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** OpenAI Chat Completions: `tools` of type function, `tool_choice`, assistant `tool_calls`, role `tool`. */
export function openaiChatTools(job: GenerateJob): { messages: unknown[]; tools?: unknown[]; tool_choice?: unknown } {
  const messages = job.messages.map((m) => {
    if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
    const calls = toolCallsOf(m);
    if (!calls.length) return { role: m.role, content: m.content };
    return { role: 'assistant', content: m.content || null, tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) };
  });
  const tools = offered(job);
  if (!tools.length) return { messages };
  const c = job.toolChoice;
  return {
    messages,
    tools: tools.map((t) => ({ type: 'function', function: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), parameters: t.parameters } })),
    ...(c === undefined ? {} : { tool_choice: typeof c === 'string' ? c : { type: 'function', function: { name: c.name } } }),
  };
}

/**
 * Anthropic Messages: `tools` with `input_schema`, `tool_choice` as `{type: auto|any|tool|none}`; a call is
 * a `tool_use` block of the assistant turn, a result a `tool_result` block of the next user turn (the
 * results of one turn together, first in that turn, then its text, as the API requires).
 */
export function anthropicTools(job: GenerateJob): { messages: unknown[]; tools?: unknown[]; tool_choice?: unknown } {
  const messages: { role: 'user' | 'assistant'; content: string | unknown[] }[] = [];
  const userBlocks = (): unknown[] | undefined => {
    const last = messages.at(-1);
    return last?.role === 'user' && Array.isArray(last.content) ? last.content : undefined;
  };
  for (const m of job.messages) {
    if (m.role === 'system') continue;
    if (m.role === 'tool') {
      const block = { type: 'tool_result', tool_use_id: m.toolCallId, content: m.content };
      const open = userBlocks();
      if (open) open.push(block);
      else messages.push({ role: 'user', content: [block] });
    } else if (m.role === 'assistant' && toolCallsOf(m).length) {
      const uses = toolCallsOf(m).map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: argsObject(c) }));
      messages.push({ role: 'assistant', content: [...(m.content ? [{ type: 'text', text: m.content }] : []), ...uses] });
    } else if (m.role === 'user' && userBlocks()) userBlocks()!.push({ type: 'text', text: m.content });
    else messages.push({ role: m.role, content: m.content });
  }
  const tools = offered(job);
  if (!tools.length) return { messages, ...roundTripOnly(job) };
  const c = job.toolChoice;
  const choice = c === undefined ? undefined : c === 'auto' ? { type: 'auto' } : c === 'none' ? { type: 'none' } : c === 'required' ? { type: 'any' } : { type: 'tool', name: c.name };
  return {
    messages,
    tools: tools.map((t) => ({ name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), input_schema: t.parameters })),
    ...(choice ? { tool_choice: choice } : {}),
  };
}

/**
 * Anthropic refuses `tool_use` and `tool_result` blocks in a request that defines no tools. A round trip
 * sent without tools (the caller wants an answer, no more calls) defines the tools it used, with any input,
 * and forbids calling them: what the caller asked for, in a request the API takes.
 */
function roundTripOnly(job: GenerateJob): { tools?: unknown[]; tool_choice?: unknown } {
  const names = [...new Set(job.messages.flatMap((m) => toolCallsOf(m).map((c) => c.name)))];
  if (!names.length) return {};
  return { tools: names.map((name) => ({ name, input_schema: { type: 'object' } })), tool_choice: { type: 'none' } };
}

/**
 * Ollama `/api/chat`: `tools` in OpenAI's function shape, assistant `tool_calls` with arguments as an
 * object, role `tool` naming the tool. Ollama has no tool_choice: `none` sends no tools, `{name}` sends only
 * that tool; neither `required` nor `{name}` can force a call (docs/providers.md).
 */
export function ollamaTools(job: GenerateJob): { messages: unknown[]; tools?: unknown[] } {
  const messages = job.messages.map((m) => {
    if (m.role === 'tool') {
      const name = toolNameOf(job.messages, m.toolCallId);
      return { role: 'tool', content: m.content, ...(name !== undefined ? { tool_name: name } : {}) };
    }
    const calls = toolCallsOf(m);
    if (!calls.length) return { role: m.role, content: m.content };
    return { role: 'assistant', content: m.content, tool_calls: calls.map((c) => ({ function: { name: c.name, arguments: argsObject(c) } })) };
  });
  const c = job.toolChoice;
  const tools = c === 'none' ? [] : offered(job).filter((t) => typeof c !== 'object' || t.name === c.name);
  if (!tools.length) return { messages };
  return { messages, tools: tools.map((t) => ({ type: 'function', function: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), parameters: t.parameters } })) };
}

/**
 * OpenAI Responses: `tools` of type function (`strict: false`: the API's default, strict, would refuse
 * every schema not written for it), `tool_choice`; a call is a `function_call` input item after its
 * assistant message, a result a `function_call_output` item.
 */
export function responsesTools(job: GenerateJob): { input: unknown[]; tools?: unknown[]; tool_choice?: unknown } {
  const input: unknown[] = [];
  for (const m of job.messages as JobMessage[]) {
    if (m.role === 'tool') {
      input.push({ type: 'function_call_output', call_id: m.toolCallId, output: m.content });
      continue;
    }
    const calls = toolCallsOf(m);
    if (!calls.length || m.content) input.push({ role: m.role, content: m.content });
    for (const c of calls) input.push({ type: 'function_call', call_id: c.id, name: c.name, arguments: c.arguments });
  }
  const tools = offered(job);
  if (!tools.length) return { input };
  const c = job.toolChoice;
  return {
    input,
    tools: tools.map((t) => ({ type: 'function', name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), parameters: t.parameters, strict: false })),
    ...(c === undefined ? {} : { tool_choice: typeof c === 'string' ? c : { type: 'function', name: c.name } }),
  };
}
