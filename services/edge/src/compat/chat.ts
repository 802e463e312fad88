import type { Request, Response } from 'express';
import { z } from 'zod';
import type { Usage } from '@relaycast/protocol';
import type { AppDeps } from '../app.js';
import { clearDeadline } from '../deadline.js';
import { CONTENT, RESTARTED, SESSION_HEADER, emptyAnswer, fold, type Answer, type NativeData } from './answer.js';
import { forwardedError, keyOf, openaiError, sendForwardedError, sendOpenAIError } from './errors.js';
import { checkMessages, common, invalid, unsupported } from './input.js';
import { stopList, stopSchema } from '../stop-param.js';
import { collect } from './session.js';
import { startSession, type Refusal } from './start.js';
import { follow, ProtocolSubscriber, startSse, type NativeEvent } from './stream.js';
import { chatMessageWithTools, chatMessages, chatTool, chatTools, isRefusal } from './tools.js';

const REFUSED = ['n', 'top_p', 'frequency_penalty', 'presence_penalty', 'logprobs', 'top_logprobs', 'response_format', 'logit_bias', 'reasoning_effort', 'modalities', 'audio', 'prediction', 'functions', 'function_call', 'web_search_options', 'service_tier', 'verbosity'] as const;

const schema = z.strictObject({
  ...common,
  messages: z.array(chatMessageWithTools).max(100_000),
  tools: z.array(chatTool).max(1_000).nullable().optional(),
  tool_choice: z.unknown().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  max_tokens: z.number().int().positive().max(100_000).nullable().optional(),
  max_completion_tokens: z.number().int().positive().max(100_000).nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  stop: stopSchema.nullable().optional(),
  ...Object.fromEntries(REFUSED.map((n) => [n, z.unknown().optional()])),
});

export const usageOf = (u: Usage | undefined) => (u ? { prompt_tokens: u.inputTokens, completion_tokens: u.outputTokens, total_tokens: u.inputTokens + u.outputTokens } : undefined);

/** `POST /chat/completions`: streaming is decided by `stream` in the body (the SDK always sends Accept: application/json). */
export function chatCompletionsHandler(d: AppDeps) {
  const reconciled = new Map<string, number>();
  return async (req: Request, res: Response): Promise<void> => {
    const refuse = (r: Refusal) => sendOpenAIError(res, r.code, r.message, { headers: r.headers, param: r.param ?? null });
    const parsed = schema.safeParse(req.body);
    if (!parsed.success) return refuse(invalid(parsed.error));
    const body = parsed.data;
    const bad = unsupported(body, REFUSED);
    if (bad) return refuse(bad);
    const messages = chatMessages(body.messages);
    if (isRefusal(messages)) return refuse(messages);
    const tools = chatTools(body);
    if (isRefusal(tools)) return refuse(tools);
    const tooBig = checkMessages(d.cfg, messages, 'messages');
    if (tooBig) return refuse(tooBig);
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? undefined;
    const started = await startSession(d, res, keyOf(res), { model: body.model, messages, params: { max_tokens: maxTokens, temperature: body.temperature ?? undefined, seed: body.seed ?? undefined, stop: stopList(body.stop) }, mock: body.mock, ...tools }, reconciled);
    if (!started.ok) return refuse(started);
    const meta = { id: `chatcmpl-${started.id}`, created: Math.floor(started.createdAt / 1000), model: started.model };
    res.setHeader(SESSION_HEADER, started.id);
    if (body.stream) return streamChunks(d, req, res, started.id, new ChatChunks(meta, body.stream_options?.include_usage === true));
    return answerJson(d, req, res, started.id, meta);
  };
}

async function streamChunks(d: AppDeps, req: Request, res: Response, id: string, chunks: ChatChunks): Promise<void> {
  const sub = new ProtocolSubscriber(res, d, true, (e, s) => {
    for (const c of chunks.event(e)) s.send(frame(c));
  }, (how) => {
    if (how === 'terminal') sub.send(Buffer.from('data: [DONE]\n\n'));
  });
  const refused = await follow(d, req, res, id, sub, () => {
    startSse(req, res, { [SESSION_HEADER]: id });
    sub.send(frame(chunks.first()));
  });
  if (refused) sendOpenAIError(res, refused.code, refused.message, { headers: refused.headers });
}

const frame = (data: unknown) => Buffer.from(`data: ${JSON.stringify(data)}\n\n`);

// Longest a non-streaming request waits for its answer (the generation itself goes on).
const WAIT_MS = 600_000;

async function answerJson(d: AppDeps, req: Request, res: Response, id: string, meta: { id: string; created: number; model: string }): Promise<void> {
  const a = emptyAnswer();
  clearDeadline(res);
  const how = await collect(d, req, res, id, (e) => fold(a, e), WAIT_MS);
  if (res.writableEnded || res.destroyed) return;
  if (typeof how === 'object') return sendOpenAIError(res, how.code, how.message, { headers: how.headers });
  if (how !== 'terminal') return sendOpenAIError(res, 'stream_interrupted', `this edge stopped following the generation; its result stays readable at /v1/sessions/${id}`, { headers: { 'Retry-After': '1' } });
  if (a.error) return sendForwardedError(res, a.error);
  if (a.cancelled !== undefined) return sendOpenAIError(res, 'cancelled', `the generation was cancelled (${a.cancelled})`);
  res.json(completion(meta, a));
}

function completion(meta: { id: string; created: number; model: string }, a: Answer) {
  const message: Record<string, unknown> = { role: 'assistant', content: a.toolCalls.length && !a.text ? null : a.text, refusal: null };
  if (a.reasoning) message.reasoning_content = a.reasoning;
  if (a.toolCalls.length) message.tool_calls = a.toolCalls.map((c) => ({ id: c.id ?? `call_${c.index}`, type: 'function', function: { name: c.name ?? '', arguments: c.arguments } }));
  return { ...meta, object: 'chat.completion', system_fingerprint: null, choices: [{ index: 0, message, logprobs: null, finish_reason: a.finishReason ?? 'stop' }], usage: usageOf(a.usage) ?? null };
}

/**
 * Native events → `chat.completion.chunk`s. Reasoning goes in `delta.reasoning_content` (the field
 * OpenAI-compatible servers use for it; OpenAI's own Chat Completions never streams reasoning).
 */
export class ChatChunks {
  private content = false;
  private usage: Usage | undefined;

  constructor(private readonly meta: { id: string; created: number; model: string }, private readonly includeUsage: boolean) {}

  private chunk(delta: Record<string, unknown>, finish: string | null = null): Record<string, unknown> {
    return { ...this.meta, object: 'chat.completion.chunk', system_fingerprint: null, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(this.includeUsage ? { usage: null } : {}) };
  }

  /** The role comes first, on a chunk of its own, as OpenAI sends it. */
  first(): Record<string, unknown> {
    return this.chunk({ role: 'assistant', content: '', refusal: null });
  }

  event(n: NativeEvent): Record<string, unknown>[] {
    if (n.type === 'gap') return [openaiError('stream_gap', 'part of this generation was lost from storage')];
    const a = emptyAnswer();
    fold(a, n);
    const data = JSON.parse(n.data) as NativeData;
    if (CONTENT.has(n.type)) this.content = true;
    switch (n.type) {
      case 'delta': return [this.chunk({ content: data.text })];
      case 'thinking': return [this.chunk({ reasoning_content: data.text })];
      case 'tool_call': {
        const call: Record<string, unknown> = { index: data.index, function: { ...(data.name !== undefined ? { name: data.name } : {}), arguments: data.arguments } };
        // A call's first piece carries its name; Ollama's calls have no id, so they get the one the JSON answer gives them.
        if (data.id !== undefined || data.name !== undefined) Object.assign(call, { id: data.id ?? `call_${data.index}`, type: 'function' });
        return [this.chunk({ tool_calls: [call] })];
      }
      case 'usage': this.usage = a.usage; return [];
      case 'reset': return this.content ? [openaiError(RESTARTED.code, RESTARTED.message)] : [];
      case 'done': {
        const out = [this.chunk({}, a.finishReason ?? 'stop')];
        const usage = usageOf(a.usage ?? this.usage);
        if (this.includeUsage) out.push({ ...this.meta, object: 'chat.completion.chunk', system_fingerprint: null, choices: [], usage: usage ?? null });
        return out;
      }
      case 'error': return [forwardedError(a.error!)];
      case 'cancelled': return [openaiError('cancelled', `the generation was cancelled (${a.cancelled})`)];
      default: return [];
    }
  }
}
