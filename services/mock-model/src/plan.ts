import { tokensFor, tokenStream } from './text.js';

/**
 * What a generated stream holds besides the answer, so tests meet the structures real servers send
 * (issue 16): reasoning in parts, the answer over several blocks, parallel tool calls, noise fields.
 */
export interface MockShape {
  /** Reasoning parts before the answer (Responses summary parts, Anthropic thinking blocks), 0-8. */
  reasoning?: number;
  /** Content blocks (Anthropic) or content parts (Responses) the answer is split over, 1-8. */
  blocks?: number;
  /** Tool calls after the answer, 0-8; more than one are parallel calls. */
  tools?: number;
  /** Fields real servers send that carry nothing for the reader (`usage: null`, `service_tier`, ...). */
  noise?: boolean;
}

export type Step =
  | { kind: 'reasoning'; part: number; text: string }
  | { kind: 'text'; block: number; text: string }
  /** `piece` 0 opens the call (id and name, no arguments); the others carry argument text. */
  | { kind: 'tool'; call: number; piece: number; text: string };

export interface PlannedCall {
  id: string;
  name: string;
  arguments: string;
}

/** A turn the request's own tools decide (services/mock-model/src/tools.ts): a call to make, or words to answer with first. */
export interface MockTurn {
  /** The one call the model makes instead of answering in text. */
  call?: PlannedCall | undefined;
  /** Tokens the answer starts with (each after the first with its leading space). */
  lead?: string[] | undefined;
}

export interface MockPlan {
  /** The pieces in order, made lazily (a long answer is never held whole). */
  steps(): Generator<Step>;
  /** How many pieces `steps` yields: the completion's token count. */
  count: number;
  calls: PlannedCall[];
  /** The request's tools made the model call one (no text; the finish is a tool call, not the limit). */
  toolTurn: boolean;
}

const TOOL_NAMES = ['get_weather', 'lookup_tide', 'convert_units', 'search_docs', 'get_time', 'find_route', 'read_file', 'send_note'];
const REASONING_TOKENS = 6;
const ARG_PIECES = 3;

/** Rejects a shape a request cannot have; returns the reason. */
export function shapeError(s: unknown): string | undefined {
  if (s === undefined) return undefined;
  if (!s || typeof s !== 'object' || Array.isArray(s)) return 'mock.shape must be an object';
  const o = s as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['reasoning', 'blocks', 'tools', 'noise'].includes(k)) return `mock.shape.${k} is not a shape field`;
  for (const [k, min] of [['reasoning', 0], ['blocks', 1], ['tools', 0]] as const) {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 8)) return `mock.shape.${k} must be an integer from ${min} to 8`;
  }
  if (o.noise !== undefined && typeof o.noise !== 'boolean') return 'mock.shape.noise must be a boolean';
  return undefined;
}

/**
 * Every piece a generated stream sends, in order, from prompt and seed: reasoning parts, then the `n`
 * answer tokens split over the blocks, then the tool calls (one after another, as OpenAI streams them).
 */
export function mockPlan(prompt: string, seed: number, n0: number, shape: MockShape = {}, turn: MockTurn = {}): MockPlan {
  const reasoning = shape.reasoning ?? 0;
  const n = turn.call ? 0 : n0;
  const lead = (turn.lead ?? []).slice(0, n);
  const per = Math.max(1, Math.ceil(n / Math.max(1, shape.blocks ?? 1)));
  const calls: PlannedCall[] = turn.call ? [turn.call] : [];
  for (let call = 0; call < (shape.tools ?? 0); call++) {
    const [word] = tokensFor(prompt, seed + 2000 + call, 1);
    calls.push({ id: `call_m${(seed >>> 0).toString(36)}x${call}`, name: TOOL_NAMES[call % TOOL_NAMES.length]!, arguments: JSON.stringify({ query: word, limit: call + 1 }) });
  }
  function* steps(): Generator<Step> {
    for (let part = 0; part < reasoning; part++) for (const text of tokenStream(prompt, seed + 1000 + part, REASONING_TOKENS)) yield { kind: 'reasoning', part, text };
    let i = 0;
    for (const text of lead) yield { kind: 'text', block: Math.floor(i++ / per), text };
    for (const text of tokenStream(prompt, seed, n - lead.length)) yield { kind: 'text', block: Math.floor(i++ / per), text: lead.length ? ` ${text.trimStart()}` : text };
    for (const [call, c] of calls.entries()) {
      yield { kind: 'tool', call, piece: 0, text: '' };
      const size = Math.ceil(c.arguments.length / ARG_PIECES);
      for (let p = 0; p < ARG_PIECES; p++) yield { kind: 'tool', call, piece: p + 1, text: c.arguments.slice(p * size, (p + 1) * size) };
    }
  }
  return { steps, count: reasoning * REASONING_TOKENS + n + calls.length * (ARG_PIECES + 1), calls, toolTurn: turn.call !== undefined };
}

/** What Relaycast should make of a generated stream: the answer, the reasoning (parts apart), the calls. */
export function mockExpectation(prompt: string, seed: number, n: number, shape: MockShape = {}, turn: MockTurn = {}): { text: string; thinking: string; toolCalls: PlannedCall[] } {
  const { steps, calls } = mockPlan(prompt, seed, n, shape, turn);
  const parts: string[] = [];
  let text = '';
  for (const s of steps()) {
    if (s.kind === 'reasoning') parts[s.part] = (parts[s.part] ?? '') + s.text;
    else if (s.kind === 'text') text += s.text;
  }
  return { text, thinking: parts.join('\n\n'), toolCalls: calls };
}
