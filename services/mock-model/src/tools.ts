import type { PlannedCall } from './plan.js';
import { tokensFor } from './text.js';

/** The tools a request offers, as every format names them once read. */
export interface MockTools {
  tools?: { name: string; parameters?: unknown }[] | undefined;
  toolChoice?: 'auto' | 'none' | 'required' | { name: string } | undefined;
  /** The last message's tool result, when the request answers a call: the mock then answers in text. */
  toolResult?: string | undefined;
}

const text = (c: unknown): string => (typeof c === 'string' ? c : Array.isArray(c) ? c.map((p: any) => (typeof p?.text === 'string' ? p.text : '')).join('') : '');

/** Tools as the request gives them, or why they are not valid (what a real server answers 400 for). */
function named(list: unknown, pick: (t: any) => { name: unknown; parameters: unknown }): MockTools['tools'] | string {
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) return 'tools must be an array';
  const out = [];
  for (const [i, t] of list.entries()) {
    const { name, parameters } = pick(t);
    if (typeof name !== 'string' || !name) return `tools[${i}]: a function tool needs a name`;
    out.push({ name, parameters });
  }
  return out;
}

function checked(tools: MockTools['tools'] | string, toolChoice: MockTools['toolChoice'], toolResult: string | undefined): MockTools | string {
  if (typeof tools === 'string') return tools;
  if (typeof toolChoice === 'object' && !tools?.some((t) => t.name === toolChoice.name)) return `tool_choice names ${JSON.stringify(toolChoice.name)}, which is not in tools`;
  return { tools, toolChoice, toolResult };
}

const choice = (c: unknown, name: (o: any) => unknown): MockTools['toolChoice'] => {
  if (c === 'auto' || c === 'none' || c === 'required') return c;
  const n = c && typeof c === 'object' ? name(c) : undefined;
  return typeof n === 'string' ? { name: n } : undefined;
};

/** OpenAI chat: `tools[].function`, `tool_choice` a string or `{type: function, function: {name}}`, results in role `tool`. */
export function openaiChatTools(b: Record<string, any>): MockTools | string {
  const last = Array.isArray(b.messages) ? b.messages.at(-1) : undefined;
  return checked(named(b.tools, (t) => ({ name: t?.function?.name, parameters: t?.function?.parameters })), choice(b.tool_choice, (o) => o.function?.name), last?.role === 'tool' ? text(last.content) : undefined);
}

/** Anthropic: `tools[].input_schema`, `tool_choice: {type: auto|any|tool|none}`, results as `tool_result` blocks of a user turn. */
export function anthropicTools(b: Record<string, any>): MockTools | string {
  const last = Array.isArray(b.messages) ? b.messages.at(-1) : undefined;
  const result = last?.role === 'user' && Array.isArray(last.content) ? last.content.find((p: any) => p?.type === 'tool_result') : undefined;
  const c = b.tool_choice;
  const mapped = c?.type === 'any' ? 'required' : c?.type === 'auto' || c?.type === 'none' ? c.type : c?.type === 'tool' ? choice(c, (o) => o.name) : undefined;
  return checked(named(b.tools, (t) => ({ name: t?.name, parameters: t?.input_schema })), mapped, result ? text(result.content) : undefined);
}

/** Ollama: `tools[].function` (no tool_choice), results in role `tool`. */
export function ollamaTools(b: Record<string, any>): MockTools | string {
  const last = Array.isArray(b.messages) ? b.messages.at(-1) : undefined;
  return checked(named(b.tools, (t) => ({ name: t?.function?.name, parameters: t?.function?.parameters })), undefined, last?.role === 'tool' ? text(last.content) : undefined);
}

/** Responses: flat function tools, `tool_choice` a string or `{type: function, name}`, results as `function_call_output` items. */
export function responsesTools(b: Record<string, any>): MockTools | string {
  const last = Array.isArray(b.input) ? b.input.at(-1) : undefined;
  const tools = Array.isArray(b.tools) && b.tools.some((t: any) => t?.type !== 'function') ? 'this mock serves function tools only' : named(b.tools, (t) => ({ name: t?.name, parameters: t?.parameters }));
  return checked(tools, choice(b.tool_choice, (o) => o.name), last?.type === 'function_call_output' ? text(last.output) : undefined);
}

/** A value of a JSON Schema's simple type, from the prompt's words. */
function valueFor(schema: any, word: string): unknown {
  if (Array.isArray(schema?.enum) && schema.enum.length) return schema.enum[0];
  const type = Array.isArray(schema?.type) ? schema.type[0] : schema?.type;
  if (type === 'integer' || type === 'number') return word.length;
  if (type === 'boolean') return true;
  if (type === 'array') return [];
  if (type === 'object') return {};
  return word.trim();
}

/** An object meeting a simple schema: its required properties filled (every property when none is required). */
export function argumentsFor(parameters: unknown, prompt: string, seed: number): string {
  const p = parameters && typeof parameters === 'object' ? (parameters as any) : {};
  const props: Record<string, unknown> = p.properties && typeof p.properties === 'object' ? p.properties : {};
  const required: string[] = Array.isArray(p.required) ? p.required.filter((k: unknown) => typeof k === 'string') : Object.keys(props);
  const words = tokensFor(prompt, seed + 3000, Math.max(1, required.length));
  return JSON.stringify(Object.fromEntries(required.map((k, i) => [k, valueFor(props[k], words[i]!)])));
}

/**
 * What a real model does with the request's tools: calls one (the named one, else the first) unless the
 * choice is `none` or the request already answers a call. Returns that call.
 */
export function requestedCall(t: MockTools, prompt: string, seed: number): PlannedCall | undefined {
  if (!t.tools?.length || t.toolChoice === 'none' || t.toolResult !== undefined) return undefined;
  const c = t.toolChoice;
  const tool = (typeof c === 'object' ? t.tools.find((x) => x.name === c.name) : undefined) ?? t.tools[0]!;
  return { id: `call_m${(seed >>> 0).toString(36)}r0`, name: tool.name, arguments: argumentsFor(tool.parameters, prompt, seed) };
}

/** The first words of the answer to a tool result: the result itself, as a model quotes what it was told. */
export function leadFor(result: string | undefined): string[] {
  if (result === undefined) return [];
  const words = `the tool said ${result}`.split(/\s+/).filter(Boolean).slice(0, 24);
  return words.map((w, i) => (i === 0 ? w : ` ${w}`));
}
