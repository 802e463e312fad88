import type { Request, Response } from 'express';
import type { Queue } from 'bullmq';
import { z } from 'zod';
import { isSessionId, newSessionId } from '@relaycast/protocol';
import { runningLeaseMs, type Admission, type Limiter, type SessionMeta, type SessionStore } from '@relaycast/store';
import type { GenerateJob, Logger } from '@relaycast/shared';
import type { EdgeConfig } from '../config.js';
import { allowsModel, type ApiKeyEntry } from '../api-keys.js';
import { apiKeyOf, owns, sessionCaller, type Caller, type EdgeAuth } from '../auth.js';
import { landCancel } from '../cancel.js';
import { sendError } from '../http-error.js';
import { bindSession, requestId } from '../request-log.js';
import type { EdgeStats } from '../stats.js';
import { isToolIssue, jobTools, messageSchema, toolChoiceSchema, toolProblem, toolsSchema } from './tools-schema.js';
import { stopList, stopSchema } from '../stop-param.js';

export interface SessionsDeps {
  cfg: EdgeConfig;
  store: SessionStore;
  queue: Queue<GenerateJob>;
  log: Logger;
  auth: EdgeAuth;
  limiter: Limiter;
  stats: EdgeStats;
}

export const mockSchema = z.strictObject({
  intervalMs: z.number().int().min(0).max(60_000).optional(),
  firstTokenMs: z.number().int().min(0).max(600_000).optional(),
  fault: z.string().max(64).optional(),
  transcript: z.string().max(128).optional(),
  // What the mock's generated stream holds besides text (services/mock-model/src/plan.ts).
  shape: z.strictObject({ reasoning: z.number().int().min(0).max(8).optional(), blocks: z.number().int().min(1).max(8).optional(), tools: z.number().int().min(0).max(8).optional(), noise: z.boolean().optional() }).optional(),
});

/**
 * Strict: a field the schema does not name is refused, so no request can smuggle an upstream address, a
 * provider key or a header through to ingest. Where the model is called from is the route's business.
 */
function createSchema(cfg: EdgeConfig) {
  return z.strictObject({
    model: z.string().max(64).optional(),
    messages: z.array(messageSchema(cfg.MAX_MESSAGE_CHARS)).min(1).max(cfg.MAX_MESSAGES),
    max_tokens: z.number().int().positive().max(100_000).optional(),
    temperature: z.number().min(0).max(2).optional(),
    seed: z.number().int().optional(),
    stop: stopSchema.optional(),
    mock: mockSchema.optional(),
    tools: toolsSchema.optional(),
    tool_choice: toolChoiceSchema.optional(),
  });
}

/** Size limits answer 413 (RFC 9110 §15.5.14); every other schema failure is a 400. */
function tooLarge(issue: z.core.$ZodIssue): 'too_many_messages' | 'message_too_large' | undefined {
  if (issue.code !== 'too_big' || issue.path[0] !== 'messages') return undefined;
  if (issue.path.length === 1) return 'too_many_messages';
  if (issue.path.length === 3 && issue.path[2] === 'content') return 'message_too_large';
  return undefined;
}

// A running slot frees when any of the key's generations ends, usually within seconds.
const RUNNING_RETRY_AFTER_S = 2;

/** Why a key's new session was refused (counted), as every surface that starts sessions answers it: 429. */
export function admissionRefusal(d: Pick<SessionsDeps, 'stats'>, refused: Extract<Admission, { ok: false }>): { message: string; headers: Record<string, string> } {
  d.stats.limited[refused.limit]++;
  const retryAfter = refused.limit === 'rate' ? Math.ceil(refused.retryAfterMs / 1000) : RUNNING_RETRY_AFTER_S;
  const message = refused.limit === 'rate' ? 'too many sessions created with this API key in the last minute' : 'too many running sessions for this API key';
  return { message, headers: { 'Retry-After': String(retryAfter) } };
}

export const links = (id: string, token?: string) => ({
  eventsUrl: `/v1/sessions/${id}/events${token ? `?token=${encodeURIComponent(token)}` : ''}`,
  cancelUrl: `/v1/sessions/${id}/cancel`,
  statusUrl: `/v1/sessions/${id}`,
  tokenUrl: `/v1/sessions/${id}/token`,
});

export function createSessionHandler(d: SessionsDeps) {
  const schema = createSchema(d.cfg);
  // Per key id (keys come from config, so this stays small): when its running slots were last reconciled.
  const reconciled = new Map<string, number>();
  return async (req: Request, res: Response): Promise<void> => {
    const key = apiKeyOf(res);
    const parsed = schema.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const big = tooLarge(issue);
      return sendError(res, big ?? (isToolIssue(issue, req.body) ? 'invalid_tool' : 'invalid_request'), `${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    const body = parsed.data;
    const model = body.model ?? d.cfg.DEFAULT_MODEL;
    const route = Object.hasOwn(d.cfg.routes, model) ? d.cfg.routes[model] : undefined;
    if (!route) return sendError(res, 'unknown_model', `no model named ${JSON.stringify(model)}`);
    if (!allowsModel(key, model)) return sendError(res, 'model_forbidden', `this API key may not use model ${JSON.stringify(model)}`);
    if (body.mock && !route.allowMock) return sendError(res, 'invalid_request', `model ${model} does not accept mock controls`);
    const toolsBad = toolProblem(body, route);
    if (toolsBad) return sendError(res, 'invalid_tool', toolsBad);

    const id = newSessionId();
    const admitted = await admit(d, key, id, reconciled);
    if (!admitted.ok) {
      const refused = admissionRefusal(d, admitted);
      return sendError(res, 'rate_limited', refused.message, refused.headers);
    }
    const log = bindSession(res, d.log, id);
    const reqId = requestId(res);
    const job: GenerateJob = {
      sessionId: id,
      model,
      messages: body.messages,
      params: { max_tokens: body.max_tokens, temperature: body.temperature, seed: body.seed, stop: stopList(body.stop) },
      ...(body.mock ? { mock: body.mock } : {}),
      ...(reqId ? { requestId: reqId } : {}),
      keyId: key.id,
      ...jobTools(body),
    };
    try {
      await d.store.create(id, { model, createdAt: Date.now(), tenant: key.tenant, keyId: key.id });
      await d.queue.add('generate', job, { jobId: id });
    } catch (err) {
      await d.limiter.release(key.id, id).catch(() => undefined);
      throw err;
    }
    log.info({ model }, 'session created');
    const { token, expiresAt } = d.auth.mint(id, key.tenant);
    const l = links(id, token);
    res.status(201).location(l.statusUrl).json({ id, model, token, tokenExpiresAt: expiresAt, ...l });
  };
}

// A key pressing on its running limit would otherwise cost a read per running session on every refusal.
const RECONCILE_EVERY_MS = 5_000;

export async function admit(d: SessionsDeps, key: ApiKeyEntry, id: string, reconciled: Map<string, number>): Promise<Admission> {
  const o = { perMinute: key.sessionsPerMinute ?? d.cfg.SESSIONS_PER_MINUTE_PER_KEY, maxRunning: key.maxRunning ?? d.cfg.MAX_RUNNING_PER_KEY, runningLeaseMs: runningLeaseMs(d.cfg) };
  const first = await d.limiter.admit(key.id, id, o);
  if (first.ok || first.limit !== 'running') return first;
  const now = Date.now();
  if (now - (reconciled.get(key.id) ?? -Infinity) < RECONCILE_EVERY_MS) return first;
  reconciled.set(key.id, now);
  if ((await reconcile(d, key.id)) === 0) return first;
  return d.limiter.admit(key.id, id, o);
}

/**
 * Frees the running slots of the key's sessions that have in fact ended (or expired): their release was
 * lost, say a worker died between the terminal event and the release. Runs only when the limit refuses (at
 * most every RECONCILE_EVERY_MS per key and edge), so it costs nothing otherwise. Returns how many it freed.
 */
async function reconcile(d: SessionsDeps, keyId: string): Promise<number> {
  const ids = await d.limiter.running(keyId);
  const metas = await Promise.all(ids.map((id) => d.store.meta(id)));
  const ended = ids.filter((_, i) => metas[i] === undefined || metas[i]!.terminal !== undefined);
  await Promise.all(ended.map((id) => d.limiter.release(keyId, id)));
  if (ended.length) d.log.info({ keyId, freed: ended.length }, 'freed running slots of sessions that had ended');
  return ended.length;
}

/**
 * Authenticates a request about one session (its token, or an API key of its tenant) and reads its
 * metadata. Sends the error and returns undefined when the caller may not act on it.
 */
export async function authorized(d: SessionsDeps, req: Request, res: Response, o: { keys: boolean; keyOnly?: boolean }): Promise<{ id: string; meta: SessionMeta; caller: Caller } | undefined> {
  const id = String(req.params.id);
  if (!isSessionId(id)) {
    sendError(res, 'session_not_found', 'no such session');
    return undefined;
  }
  const caller: Caller | undefined = o.keyOnly ? { kind: 'key', key: apiKeyOf(res) } : sessionCaller(d.auth, req, res, id, { query: false, keys: o.keys });
  if (!caller) return undefined;
  const meta = await d.store.meta(id);
  if (!meta) {
    sendError(res, 'session_not_found', 'no such session (unknown or expired)');
    return undefined;
  }
  if (!owns(caller, meta)) {
    sendError(res, 'forbidden', 'this session belongs to another tenant');
    return undefined;
  }
  return { id, meta, caller };
}

/** `POST /v1/sessions/:id/token` (API key of the owning tenant): a fresh subscribe token. */
export function mintTokenHandler(d: SessionsDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const a = await authorized(d, req, res, { keys: true, keyOnly: true });
    if (!a) return;
    const { token, expiresAt } = d.auth.mint(a.id, a.meta.tenant!);
    res.json({ token, tokenExpiresAt: expiresAt, eventsUrl: links(a.id, token).eventsUrl });
  };
}

export function cancelHandler(d: SessionsDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const a = await authorized(d, req, res, { keys: true });
    if (!a) return;
    const { id, meta } = a;
    const r = await d.store.requestCancel(id, 'client_request');
    if (!r) return sendError(res, 'session_not_found', 'no such session (unknown or expired)');
    if (r.ended) {
      res.status(202).json({ id, status: r.status, cancelled: false });
      return;
    }
    // The worker running it ends it; if none heard, or it has not within a moment, this edge does (cancel.ts).
    await landCancel(d, id, meta.keyId, r.watchers);
    res.status(202).json({ id, status: 'cancelling', cancelled: true });
  };
}

export { statusHandler } from './status.js';
