import type { Request, Response } from 'express';
import { z } from 'zod';
import type { GenerateJob } from '@relaycast/shared';
import type { AppDeps } from '../app.js';
import { clearDeadline } from '../deadline.js';
import { SESSION_HEADER } from './answer.js';
import { keyOf, sendOpenAIError } from './errors.js';
import { checkMessages, common, invalid, nativeMessage, unsupported } from './input.js';
import { ResponsesEvents, responseTools, type ResponseBase, type ResponseRequest, type StreamEvent } from './responses-map.js';
import { cancelSession, collect, history, ownedSession } from './session.js';
import { startSession, type Refusal } from './start.js';
import { ProtocolSubscriber, follow, startSse } from './stream.js';
import { isRefusal, responsesInputItem, responsesMessages, responsesTool, responsesTools } from './tools.js';

const REFUSED = ['previous_response_id', 'conversation', 'reasoning', 'top_p', 'include', 'prompt', 'max_tool_calls', 'top_logprobs', 'service_tier'] as const;

const schema = z.strictObject({
  ...common,
  input: z.union([z.string(), z.array(responsesInputItem).max(100_000)]),
  tools: z.array(z.union([responsesTool, z.looseObject({ type: z.string() })])).max(1_000).nullable().optional(),
  tool_choice: z.unknown().optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
  instructions: z.string().nullable().optional(),
  max_output_tokens: z.number().int().positive().max(100_000).nullable().optional(),
  background: z.boolean().nullable().optional(),
  // Only plain text output exists natively; its default spelled out changes nothing.
  text: z.strictObject({ format: z.strictObject({ type: z.literal('text') }).optional() }).nullable().optional(),
  truncation: z.literal('disabled').nullable().optional(),
  stream_options: z.looseObject({}).nullable().optional(),
  ...Object.fromEntries(REFUSED.map((n) => [n, z.unknown().optional()])),
});

// How long `POST /responses/{id}/cancel` waits for the generation to end before answering `in_progress`.
const CANCEL_WAIT_MS = 5_000;
// Longest a non-background, non-streaming request waits for its answer (the generation itself goes on).
const WAIT_MS = 600_000;

const sse = (e: StreamEvent) => Buffer.from(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
const refuse = (res: Response, r: Refusal) => sendOpenAIError(res, r.code, r.message, { headers: r.headers, param: r.param ?? null });

/** `POST /responses`. */
export function createResponseHandler(d: AppDeps) {
  const reconciled = new Map<string, number>();
  return async (req: Request, res: Response): Promise<void> => {
    const parsed = schema.safeParse(req.body);
    if (!parsed.success) return refuse(res, invalid(parsed.error));
    const body = parsed.data;
    const bad = unsupported(body, REFUSED);
    if (bad) return refuse(res, bad);
    const messages: GenerateJob['messages'] = [];
    if (body.instructions) messages.push(nativeMessage('system', body.instructions));
    if (typeof body.input === 'string') messages.push(nativeMessage('user', body.input));
    else {
      const items = responsesMessages(body.input);
      if (isRefusal(items)) return refuse(res, items);
      for (const m of items) messages.push(m);
    }
    const tools = responsesTools(body);
    if (isRefusal(tools)) return refuse(res, tools);
    const tooBig = checkMessages(d.cfg, messages, 'input');
    if (tooBig) return refuse(res, tooBig);
    const request: ResponseRequest = { background: body.background === true, instructions: body.instructions ?? null, max_output_tokens: body.max_output_tokens ?? null, temperature: body.temperature ?? null, metadata: body.metadata ?? {}, ...responseTools(tools) };
    const ttl = d.store.opts.openTtlSeconds + d.store.opts.retentionSeconds;
    const started = await startSession(d, res, keyOf(res), { model: body.model, messages, params: { max_tokens: body.max_output_tokens ?? undefined, temperature: body.temperature ?? undefined, seed: body.seed ?? undefined }, mock: body.mock, ...tools }, reconciled, (id) => d.redis.set(d.store.keys.compat.response(id), JSON.stringify(request), 'EX', ttl));
    if (!started.ok) return refuse(res, started);
    res.setHeader(SESSION_HEADER, started.id);
    const base: ResponseBase = { ...request, sessionId: started.id, createdAt: started.createdAt, model: started.model };
    if (body.stream) return streamEvents(d, req, res, base, -1);
    const events = new ResponsesEvents(base);
    if (request.background) return void res.json(events.snapshot('queued'));
    clearDeadline(res);
    const how = await collect(d, req, res, started.id, (e) => events.event(e), WAIT_MS);
    if (res.destroyed) return;
    if (typeof how === 'object') return refuse(res, how);
    if (how !== 'terminal') return refuse(res, { code: 'stream_interrupted', message: `this edge stopped following the generation; retrieve resp_${started.id}`, headers: { 'Retry-After': '1' } });
    res.json(events.snapshot());
  };
}

/** The Responses stream of a session from its start, sending only the events after `startingAfter`. */
async function streamEvents(d: AppDeps, req: Request, res: Response, base: ResponseBase, startingAfter: number): Promise<void> {
  const events = new ResponsesEvents(base);
  const send = (sub: ProtocolSubscriber, list: StreamEvent[]) => {
    for (const e of list) if (e.sequence_number > startingAfter) sub.send(sse(e));
  };
  const sub: ProtocolSubscriber = new ProtocolSubscriber(res, d, true, (e, s) => send(s, events.event(e)), () => undefined);
  const refused = await follow(d, req, res, base.sessionId, sub, () => {
    startSse(req, res, { [SESSION_HEADER]: base.sessionId });
    send(sub, events.start());
  });
  if (refused) refuse(res, refused);
}

async function baseOf(d: AppDeps, id: string, meta: { createdAt: number; model: string }): Promise<ResponseBase> {
  const raw = await d.redis.get(d.store.keys.compat.response(id));
  // A session started natively (or whose record expired) reads as a Response with the defaults.
  const request: ResponseRequest = raw ? (JSON.parse(raw) as ResponseRequest) : { background: false, instructions: null, max_output_tokens: null, temperature: null, metadata: {} };
  return { ...request, sessionId: id, createdAt: meta.createdAt, model: meta.model };
}

const notFound = (res: Response, raw: string) => sendOpenAIError(res, 'response_not_found', `No response found with id '${raw}'.`, { param: 'response_id' });

/** `GET /responses/{id}` (the Response) and `GET /responses/{id}?stream=true&starting_after=N` (resume). */
export function retrieveResponseHandler(d: AppDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const raw = String(req.params.id);
    const s = await ownedSession(d, res, raw, 'resp_');
    if (!s) return notFound(res, raw);
    const base = await baseOf(d, s.id, s.meta);
    res.setHeader(SESSION_HEADER, s.id);
    if (req.query.stream === 'true') {
      const after = req.query.starting_after === undefined ? -1 : Number(req.query.starting_after);
      if (!Number.isInteger(after) || after < -1) return refuse(res, { code: 'invalid_request', message: 'starting_after: a sequence number (integer ≥ 0)', param: 'starting_after' });
      return streamEvents(d, req, res, base, after);
    }
    res.json(await snapshotOf(d, s.id, s.meta.status, base));
  };
}

async function snapshotOf(d: AppDeps, id: string, status: string, base: ResponseBase): Promise<Record<string, unknown>> {
  const events = new ResponsesEvents(base);
  for await (const e of history(d, id)) events.event(e);
  // Not ended: the session's own status says whether a worker has begun.
  return events.snapshot(events.status !== 'in_progress' ? events.status : status === 'queued' ? 'queued' : 'in_progress');
}

/** `POST /responses/{id}/cancel`: cancels the upstream and answers the Response once it has ended (or after a bounded wait). */
export function cancelResponseHandler(d: AppDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const raw = String(req.params.id);
    const s = await ownedSession(d, res, raw, 'resp_');
    if (!s) return notFound(res, raw);
    res.setHeader(SESSION_HEADER, s.id);
    const ended = await cancelSession(d, s.id, s.meta);
    if (ended === undefined) return notFound(res, raw);
    const base = await baseOf(d, s.id, s.meta);
    if (!ended) {
      const how = await collect(d, req, res, s.id, () => undefined, CANCEL_WAIT_MS);
      if (res.destroyed) return;
      if (typeof how === 'object') return refuse(res, how);
    }
    const meta = await d.store.meta(s.id);
    res.json(await snapshotOf(d, s.id, meta?.status ?? 'in_progress', base));
  };
}
