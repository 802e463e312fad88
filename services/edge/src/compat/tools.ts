import { z } from 'zod';
import type { JobMessage, ToolChoice, ToolDefinition } from '@relaycast/protocol';
import type { GenerateJob, Route } from '@relaycast/shared';
import type { EdgeConfig } from '../config.js';
import { jobTools, messageSchema, toolChoiceSchema, toolProblem, toolsSchema } from '../routes/tools-schema.js';
import { chatMessage, nativeMessage, responsesItem, textOf } from './input.js';
import type { Refusal } from './start.js';

/**
 * OpenAI's function tools on the compatible surfaces (issue 21), mapped onto the native tools
 * (routes/tools-schema.ts). Function tools only: built-in tools (web_search, file_search, custom, …) and
 * choices of them are refused by name, as is strict mode, which the native request cannot promise.
 */

type Native = { tools?: ToolDefinition[]; toolChoice?: ToolChoice };

const refused = (param: string, message: string): Refusal => ({ code: 'unsupported_parameter', message: `${param}: ${message} (docs/compat.md)`, param });
const badTool = (param: string, message: string): Refusal => ({ code: 'invalid_tool', message: `${param}: ${message}`, param });

/** A function's fields, as both APIs spell them (chat nests them under `function`). */
const fn = z.looseObject({ name: z.unknown(), description: z.unknown().optional(), parameters: z.unknown().optional(), strict: z.boolean().nullable().optional() });
export const chatTool = z.looseObject({ type: z.string(), function: fn.optional() });
export const responsesTool = fn.extend({ type: z.string() });
export const chatToolCall = z.looseObject({ id: z.string(), type: z.string(), function: z.looseObject({ name: z.string(), arguments: z.string() }).optional() });

/** The function tools, or the refusal for a tool that is not one, or strict. */
function functions(list: unknown[] | null | undefined, pick: (t: Record<string, unknown>) => unknown): { tools: Record<string, unknown>[] } | Refusal {
  const tools = [];
  for (const [i, t] of (list ?? []).entries()) {
    const f = (t as { type?: unknown }).type === 'function' ? fn.safeParse(pick(t as Record<string, unknown>)).data : undefined;
    if (!f) return refused(`tools.${i}.type`, `only function tools are supported, not ${JSON.stringify((t as { type?: unknown }).type)}`);
    if (f.strict === true) return refused(`tools.${i}.strict`, 'strict function calling cannot be promised by every route');
    tools.push({ name: f.name, ...(f.description !== undefined && f.description !== null ? { description: f.description } : {}), ...(f.parameters !== undefined && f.parameters !== null ? { parameters: f.parameters } : {}) });
  }
  return { tools };
}

/** `auto` / `none` / `required`, or the function named in `{type: 'function', …}`. */
function choiceOf(c: unknown, nameOf: (o: Record<string, unknown>) => unknown): ToolChoice | undefined | Refusal {
  if (c === undefined || c === null) return undefined;
  if (c === 'auto' || c === 'none' || c === 'required') return c;
  const o = c && typeof c === 'object' ? (c as Record<string, unknown>) : undefined;
  const name = o?.type === 'function' ? nameOf(o) : undefined;
  if (typeof name !== 'string') return refused('tool_choice', 'only auto, none, required or one function can be chosen');
  return { name };
}

/** Validates the mapped tools with the native schema, so every surface keeps the same bounds. */
function native(tools: Record<string, unknown>[], choice: ToolChoice | undefined): Native | Refusal {
  const t = toolsSchema.safeParse(tools);
  if (!t.success) return badTool(`tools.${t.error.issues[0]!.path.join('.')}`, t.error.issues[0]!.message);
  const c = toolChoiceSchema.optional().safeParse(choice);
  if (!c.success) return badTool('tool_choice', c.error.issues[0]!.message);
  return jobTools({ tools: t.data, tool_choice: c.data });
}

const isRefusal = (v: unknown): v is Refusal => !!v && typeof v === 'object' && !Array.isArray(v) && 'code' in v && 'message' in v;

/** Chat Completions: `tools[].function`, `tool_choice`, `parallel_tool_calls` (only its default, true). */
export function chatTools(body: { tools?: z.infer<typeof chatTool>[] | null | undefined; tool_choice?: unknown; parallel_tool_calls?: boolean | null | undefined }): Native | Refusal {
  if (body.parallel_tool_calls === false) return refused('parallel_tool_calls', 'only true (the default) is supported');
  const f = functions(body.tools, (t) => t.function);
  if (isRefusal(f)) return f;
  const c = choiceOf(body.tool_choice, (o) => (o.function as { name?: unknown } | undefined)?.name);
  return isRefusal(c) ? c : native(f.tools, c);
}

/** Responses: flat function tools, `tool_choice` with `{type: 'function', name}`. */
export function responsesTools(body: { tools?: unknown[] | null | undefined; tool_choice?: unknown; parallel_tool_calls?: boolean | null | undefined }): Native | Refusal {
  if (body.parallel_tool_calls === false) return refused('parallel_tool_calls', 'only true (the default) is supported');
  const f = functions(body.tools, (t) => t);
  if (isRefusal(f)) return f;
  const c = choiceOf(body.tool_choice, (o) => o.name);
  return isRefusal(c) ? c : native(f.tools, c);
}

/** A chat assistant message's `tool_calls` as native calls (function calls only). */
export function chatCalls(calls: z.infer<typeof chatToolCall>[], at: string): { id: string; name: string; arguments: string }[] | Refusal {
  const out = [];
  for (const [j, c] of calls.entries()) {
    if (c.type !== 'function' || !c.function) return refused(`${at}.tool_calls.${j}.type`, 'only function tool calls can be carried');
    out.push({ id: c.id, name: c.function.name, arguments: c.function.arguments });
  }
  return out;
}

/**
 * The native checks on a request's tools and round trip, for every surface that starts sessions: each
 * message's calls and results as the native schema bounds them, then what no schema says (toolProblem).
 */
export function checkTools(cfg: EdgeConfig, route: Route, r: { messages: JobMessage[] } & Pick<GenerateJob, 'tools' | 'toolChoice'>): Refusal | undefined {
  const schema = messageSchema(cfg.MAX_MESSAGE_CHARS);
  for (const [i, m] of r.messages.entries()) {
    if (m.role !== 'tool' && !(m.role === 'assistant' && m.toolCalls)) continue;
    const p = schema.safeParse(m);
    if (!p.success) return badTool(`messages.${i}.${p.error.issues[0]!.path.join('.')}`, p.error.issues[0]!.message);
  }
  const problem = toolProblem({ messages: r.messages, tools: r.tools, tool_choice: r.toolChoice }, route);
  if (!problem) return undefined;
  const param = /^([\w.]+): /.exec(problem)?.[1];
  return { code: 'invalid_tool', message: problem, ...(param ? { param } : {}) };
}

export const chatMessageWithTools = chatMessage.extend({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  tool_calls: z.array(chatToolCall).max(1_000).nullable().optional(),
  tool_call_id: z.string().optional(),
});

/** Chat messages as native ones: an assistant's `tool_calls` become its calls, a `tool` message a result. */
export function chatMessages(list: z.infer<typeof chatMessageWithTools>[]): JobMessage[] | Refusal {
  const out: JobMessage[] = [];
  for (const [i, m] of list.entries()) {
    const content = m.content === null || m.content === undefined ? undefined : textOf(m.content);
    if (m.role === 'tool') {
      if (m.tool_call_id === undefined) return badTool(`messages.${i}.tool_call_id`, 'a tool message answers a call: tool_call_id is required');
      out.push({ role: 'tool', toolCallId: m.tool_call_id, content: content ?? '' });
      continue;
    }
    if (m.role === 'assistant' && m.tool_calls?.length) {
      const calls = chatCalls(m.tool_calls, `messages.${i}`);
      if (isRefusal(calls)) return calls;
      out.push({ role: 'assistant', content: content ?? '', toolCalls: calls });
      continue;
    }
    if (content === undefined) return { code: 'invalid_request', message: `messages.${i}: a message without content (and without tool calls) cannot be carried`, param: `messages.${i}.content` };
    out.push(nativeMessage(m.role, content));
  }
  return out;
}

export const responsesFunctionCall = z.looseObject({ type: z.literal('function_call'), call_id: z.string(), name: z.string(), arguments: z.string() });
export const responsesFunctionOutput = z.looseObject({ type: z.literal('function_call_output'), call_id: z.string(), output: z.union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string().optional() }))]) });

/** Reasoning output given back (`input: [...input, ...response.output]`): native messages carry no reasoning. */
const responsesReasoning = z.looseObject({ type: z.literal('reasoning') });

/** A Responses input item: a message, a function call the model made, its output, or reasoning (not sent on). */
export const responsesInputItem = z.union([responsesItem, responsesFunctionCall, responsesFunctionOutput, responsesReasoning]);

/**
 * Responses input items as native messages: a function call joins the assistant turn right before it (or
 * opens one), its output becomes a `tool` message. Output parts that are not text cannot be carried.
 */
export function responsesMessages(items: z.infer<typeof responsesInputItem>[]): JobMessage[] | Refusal {
  const out: JobMessage[] = [];
  for (const [i, item] of items.entries()) {
    if (item.type === 'function_call') {
      const call = { id: item.call_id, name: item.name, arguments: item.arguments };
      const last = out.at(-1);
      if (last?.role === 'assistant') last.toolCalls = [...(last.toolCalls ?? []), call];
      else out.push({ role: 'assistant', content: '', toolCalls: [call] });
    } else if (item.type === 'function_call_output') {
      const parts = typeof item.output === 'string' ? [] : item.output;
      if (parts.some((p) => p.type !== 'input_text' && p.type !== 'output_text' && p.type !== 'text')) return refused(`input.${i}.output`, 'only text output can be carried');
      out.push({ role: 'tool', toolCallId: item.call_id, content: typeof item.output === 'string' ? item.output : parts.map((p) => p.text ?? '').join('') });
    } else if (item.type !== 'reasoning') out.push(nativeMessage(item.role, textOf(item.content)));
  }
  return out;
}

export { isRefusal };
