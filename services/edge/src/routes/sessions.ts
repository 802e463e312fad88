import type { Request, Response } from 'express';
import type { Queue } from 'bullmq';
import { z } from 'zod';
import { isSessionId, newSessionId, parseEvent, type GenerateJob, type Config, type Logger, type SessionStore, type Usage } from '@relaycast/shared';
import { sendError } from '../http-error.js';
import { bindSession, requestId } from '../request-log.js';


export interface SessionsDeps {
  cfg: Config;
  store: SessionStore;
  queue: Queue<GenerateJob>;
  log: Logger;
}

const mockSchema = z.strictObject({
  intervalMs: z.number().int().min(0).max(60_000).optional(),
  firstTokenMs: z.number().int().min(0).max(600_000).optional(),
  fault: z.string().max(64).optional(),
  transcript: z.string().max(128).optional(),
});

function createSchema(cfg: Config) {
  return z.strictObject({
    model: z.string().max(64).optional(),
    messages: z
      .array(z.strictObject({ role: z.enum(['system', 'user', 'assistant']), content: z.string().max(cfg.MAX_MESSAGE_CHARS) }))
      .min(1)
      .max(cfg.MAX_MESSAGES),
    max_tokens: z.number().int().positive().max(100_000).optional(),
    temperature: z.number().min(0).max(2).optional(),
    seed: z.number().int().optional(),
    mock: mockSchema.optional(),
  });
}

const links = (id: string) => ({
  eventsUrl: `/v1/sessions/${id}/events`,
  cancelUrl: `/v1/sessions/${id}/cancel`,
  statusUrl: `/v1/sessions/${id}`,
});

export function createSessionHandler(d: SessionsDeps) {
  const schema = createSchema(d.cfg);
  return async (req: Request, res: Response): Promise<void> => {
    const parsed = schema.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const tooMany = issue.path[0] === 'messages' && issue.code === 'too_big' && issue.path.length === 1;
      return sendError(res, tooMany ? 413 : 400, tooMany ? 'too_many_messages' : 'invalid_request', `${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    const body = parsed.data;
    const model = body.model ?? d.cfg.DEFAULT_MODEL;
    const route = d.cfg.routes[model];
    if (!route) return sendError(res, 400, 'unknown_model', `no model named ${JSON.stringify(model)}`);
    if (body.mock && !route.allowMock) return sendError(res, 400, 'invalid_request', `model ${model} does not accept mock controls`);

    const id = newSessionId();
    const log = bindSession(res, d.log, id);
    await d.store.create(id, { model, createdAt: Date.now() });
    const reqId = requestId(res);
    const job: GenerateJob = {
      sessionId: id,
      model,
      messages: body.messages,
      params: { max_tokens: body.max_tokens, temperature: body.temperature, seed: body.seed },
      ...(body.mock ? { mock: body.mock } : {}),
      ...(reqId ? { requestId: reqId } : {}),
    };
    await d.queue.add('generate', job, { jobId: id });
    log.info({ model }, 'session created');
    const l = links(id);
    res.status(201).location(l.statusUrl).json({ id, ...l });
  };
}

export function cancelHandler(d: SessionsDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const id = String(req.params.id);
    if (!isSessionId(id)) return sendError(res, 404, 'session_not_found', 'no such session');
    const r = await d.store.requestCancel(id, 'client_request');
    if (!r) return sendError(res, 404, 'session_not_found', 'no such session (unknown or expired)');
    if (r.ended) {
      res.status(202).json({ id, status: r.status, cancelled: false });
      return;
    }
    // No worker owns a queued session yet, so end it here; the append is fenced on attempt 0, so if a
    // worker began in the meantime this append is refused and the worker, seeing the flag, cancels instead.
    if (r.status === 'queued' && r.attempt === 0) {
      try {
        await d.store.append(id, 0, r.seq + 1, [{ type: 'cancelled', reason: 'client_request' }]);
      } catch {
        /* a worker took it; it will honour cancelRequested */
      }
    }
    res.status(202).json({ id, status: 'cancelling', cancelled: true });
  };
}

export function statusHandler(d: SessionsDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const id = String(req.params.id);
    if (!isSessionId(id)) return sendError(res, 404, 'session_not_found', 'no such session');
    const meta = await d.store.meta(id);
    if (!meta) return sendError(res, 404, 'session_not_found', 'no such session (unknown or expired)');
    // `text` is the answer only; reasoning and tool calls are reported apart.
    let text = '';
    let thinking = '';
    let toolCalls: { index: number; id?: string; name?: string; arguments: string }[] = [];
    let usage: Usage | undefined;
    let finishReason: string | undefined;
    let error: { code: string; message: string } | undefined;
    for (let from = 1; ; ) {
      const page = await d.store.range(id, from, d.cfg.REPLAY_PAGE_SIZE);
      for (const entry of page) {
        const e = parseEvent(entry.type, entry.data);
        if (e.type === 'delta') text += e.text;
        else if (e.type === 'thinking') thinking += e.text;
        else if (e.type === 'tool_call') {
          let call = toolCalls.find((c) => c.index === e.index);
          if (!call) toolCalls.push((call = { index: e.index, arguments: '' }));
          if (e.id !== undefined) call.id = e.id;
          if (e.name !== undefined) call.name = e.name;
          call.arguments += e.arguments;
        } else if (e.type === 'reset') {
          text = '';
          thinking = '';
          toolCalls = [];
        }
        else if (e.type === 'usage') usage = { inputTokens: e.inputTokens, outputTokens: e.outputTokens, estimated: e.estimated };
        else if (e.type === 'done') {
          finishReason = e.finishReason;
          if (e.usage) usage = e.usage;
        } else if (e.type === 'error') error = { code: e.code, message: e.message };
      }
      if (page.length < d.cfg.REPLAY_PAGE_SIZE) break;
      from = page[page.length - 1]!.seq + 1;
    }
    res.json({
      id,
      status: meta.status,
      model: meta.model,
      createdAt: meta.createdAt,
      startedAt: meta.startedAt ?? null,
      endedAt: meta.endedAt ?? null,
      text,
      thinking,
      toolCalls,
      usage: usage ?? null,
      finishReason: finishReason ?? null,
      error: error ?? null,
      lastEventId: String(meta.seq),
      ...links(id),
    });
  };
}
