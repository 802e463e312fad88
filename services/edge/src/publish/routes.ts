import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import { isSessionId, newSessionId } from '@relaycast/protocol';
import { EndProducerCode, runningLeaseMs } from '@relaycast/store';
import type { ApiKeyEntry } from '../api-keys.js';
import { apiKeyOf, owns, sessionCaller, type EdgeAuth } from '../auth.js';
import { sendError } from '../http-error.js';
import { bindSession } from '../request-log.js';
import type { EdgeStats } from '../stats.js';
import { producerOf } from './auth.js';
import { charge, commit, PublishRefused, sendRefused, type PublishDeps } from './commit.js';
import { checkTerminalLast, parsePublishEvent, PublishInputError, toWire } from './events.js';
import { checkProcessors, processorSpecSchema, PublishRun, type ProcessorSpec } from './processors.js';

export interface PublishRouteDeps extends PublishDeps {
  auth: EdgeAuth;
  stats: EdgeStats;
  log: import('@relaycast/shared').Logger;
}

const createSchema = z.strictObject({
  producer: z.literal(true),
  /** Shown as the session's `model` in its status (default `producer`). */
  label: z.string().regex(/^[A-Za-z0-9._:/-]{1,64}$/).optional(),
  processors: processorSpecSchema.optional(),
  idleTimeoutMs: z.number().int().min(100).max(86_400_000).optional(),
});

export const producerLinks = (id: string) => ({
  publishUrl: `/v1/sessions/${id}/publish`,
  producerUrl: `/v1/sessions/${id}/producer`,
});

/**
 * `POST /v1/sessions` with `{producer: true}`: a producer-owned session. Any other body goes on to the model
 * route handler. Admission is the model sessions' own (sessions per minute, running sessions per key).
 */
export function createProducerSession(d: PublishRouteDeps & { limiter: import('@relaycast/store').Limiter }) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if ((req.body as { producer?: unknown } | undefined)?.producer === undefined) return next();
    const key: ApiKeyEntry = apiKeyOf(res);
    const parsed = createSchema.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return sendError(res, 'invalid_request', `${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    let processors: ProcessorSpec[];
    try {
      processors = checkProcessors(parsed.data.processors ?? [], d.cfg);
    } catch (e) {
      if (e instanceof PublishInputError) return sendError(res, e.code, e.message);
      throw e;
    }
    const id = newSessionId();
    const admitted = await d.limiter.admit(key.id, id, { perMinute: key.sessionsPerMinute ?? d.cfg.SESSIONS_PER_MINUTE_PER_KEY, maxRunning: key.maxRunning ?? d.cfg.MAX_RUNNING_PER_KEY, runningLeaseMs: runningLeaseMs(d.cfg) });
    if (!admitted.ok) {
      d.stats.limited[admitted.limit]++;
      const why = admitted.limit === 'rate' ? 'too many sessions created with this API key in the last minute' : 'too many running sessions for this API key';
      return sendError(res, 'rate_limited', why, { 'Retry-After': String(Math.max(1, Math.ceil(admitted.retryAfterMs / 1000))) });
    }
    const label = parsed.data.label ?? 'producer';
    const idleMs = parsed.data.idleTimeoutMs ?? d.cfg.PRODUCER_IDLE_TIMEOUT_MS;
    let producerToken: string;
    try {
      producerToken = (await d.producers.create(id, { label, tenant: key.tenant, keyId: key.id, idleMs, processors })).token;
    } catch (err) {
      await d.limiter.release(key.id, id).catch(() => undefined);
      throw err;
    }
    bindSession(res, d.log, id).info({ label, processors: processors.map((p) => p.type) }, 'producer session created');
    const { token, expiresAt } = d.auth.mint(id, key.tenant);
    const base = `/v1/sessions/${id}`;
    res.status(201).location(base).json({
      id,
      model: label,
      token,
      tokenExpiresAt: expiresAt,
      eventsUrl: `${base}/events?token=${encodeURIComponent(token)}`,
      cancelUrl: `${base}/cancel`,
      statusUrl: base,
      tokenUrl: `${base}/token`,
      producer: { token: producerToken, epoch: 1, nextSeq: 1, idleTimeoutMs: idleMs, processors: processors.map((p) => p.type), ...producerLinks(id) },
    });
  };
}

const batchSchema = z.strictObject({ epoch: z.number().int().min(1), seq: z.number().int().min(1), events: z.array(z.unknown()) });

/** `POST /v1/sessions/:id/publish` with a JSON body `{epoch, seq, events}`: appended whole or not at all. */
export function publishBatch(d: PublishRouteDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const p = await producerOf(d.producers, d.auth, req, res);
    if (!p) return;
    const body = batchSchema.safeParse(req.body);
    if (!body.success) {
      const issue = body.error.issues[0]!;
      return sendError(res, 'invalid_request', `${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    const { epoch, seq, events } = body.data;
    try {
      if (events.length > d.cfg.PUBLISH_MAX_BATCH) throw new PublishInputError('batch_too_large', `${events.length} events exceed PUBLISH_MAX_BATCH (${d.cfg.PUBLISH_MAX_BATCH})`);
      const parsed = events.map((e, i) => parsePublishEvent(e, `events[${i}]`, d.cfg.PUBLISH_MAX_EVENT_BYTES));
      checkTerminalLast(parsed, (i) => `events[${i}]`);
      await charge(d, p.meta, parsed.length);
      const run = new PublishRun(p.meta.processors as ProcessorSpec[], d.cfg, p.meta.outChars);
      for (const e of parsed) run.feed(e);
      run.flush();
      const ack = await commit(d, p.id, p.meta, epoch, seq, parsed.length, run.out, run.outChars);
      res.json({ ...ack, ...(run.finishedBy ? { finishReason: run.finishedBy } : {}) });
    } catch (e) {
      if (e instanceof PublishInputError) return sendError(res, e.code, e.message);
      if (e instanceof PublishRefused) return sendRefused(res, e);
      throw e;
    }
  };
}

/** `POST /v1/sessions/:id/producer`: a new producer takes over (a higher epoch fences the old one). */
export function claimProducer(d: PublishRouteDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const p = await producerOf(d.producers, d.auth, req, res);
    if (!p) return;
    const r = await d.producers.claim(p.id);
    if (r.kind === 'claimed') return void res.json({ epoch: r.epoch, pseq: r.pseq, nextSeq: r.pseq + 1 });
    if (r.kind === 'ended') return sendRefused(res, new PublishRefused(p.meta.status === 'cancelled' ? 'session_cancelled' : 'session_ended', `the session already ended (${p.meta.status})`, { status: p.meta.status }));
    sendError(res, 'session_not_found', 'no such session (unknown or expired)');
  };
}

/** `GET /v1/sessions/:id/producer`: where the producer stands, e.g. after a cut stream, before it resumes. */
export function producerState(d: PublishRouteDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const p = await producerOf(d.producers, d.auth, req, res);
    if (!p) return;
    const m = p.meta;
    res.json({ id: p.id, status: m.status, epoch: m.epoch, pseq: m.pseq, nextSeq: m.pseq + 1, lastEventId: String(m.seq), cancelRequested: m.cancelRequested ?? null, ended: m.terminal !== undefined });
  };
}

/**
 * `POST /v1/sessions/:id/cancel` on a producer session: Relaycast appends `cancelled` at once (subscribers
 * end now) and the producer's next publish is refused with `session_cancelled`. Other sessions go on to
 * the model sessions' handler.
 */
export function cancelProducerSession(d: PublishRouteDeps & { store: import('@relaycast/store').SessionStore }) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const id = String(req.params.id);
    if (!isSessionId(id) || !(await d.producers.isProducer(id))) return next();
    const meta = await d.store.meta(id);
    if (!meta) return next();
    const caller = sessionCaller(d.auth, req, res, id, { query: false, keys: true });
    if (!caller) return;
    if (!owns(caller, meta)) return sendError(res, 'forbidden', 'this session belongs to another tenant');
    const reason = 'client_request';
    const r = await d.producers.end(id, 'cancel', toWire({ type: 'cancelled', reason }), reason);
    const ended = r.code === EndProducerCode.Ended;
    if (ended) await d.limiter.release(meta.keyId ?? '', id).catch(() => undefined);
    if (r.code === EndProducerCode.Missing) return sendError(res, 'session_not_found', 'no such session (unknown or expired)');
    res.status(202).json({ id, status: ended ? 'cancelled' : String(r.value), cancelled: ended });
  };
}
