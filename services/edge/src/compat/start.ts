import type { Response } from 'express';
import { newSessionId, type ErrorCode } from '@relaycast/protocol';
import type { GenerateJob } from '@relaycast/shared';
import { allowsModel, type ApiKeyEntry } from '../api-keys.js';
import { requestId } from '../request-log.js';
import { admissionRefusal, admit, type SessionsDeps } from '../routes/sessions.js';
import { checkTools } from './tools.js';

/** A generation as the native API runs it, built from a compatible request. */
export interface NativeRequest {
  model?: string | undefined;
  messages: GenerateJob['messages'];
  params: GenerateJob['params'];
  mock?: GenerateJob['mock'] | undefined;
  tools?: GenerateJob['tools'] | undefined;
  toolChoice?: GenerateJob['toolChoice'] | undefined;
}

/** Why a request was not started: the catalogue code the surface answers with (its status comes from there). */
export interface Refusal {
  code: ErrorCode;
  message: string;
  headers?: Record<string, string>;
  param?: string;
}

export type Started = { ok: true; id: string; model: string; createdAt: number } | ({ ok: false } & Refusal);

/**
 * Starts a session exactly as `POST /v1/sessions` does (same model checks, limits, job), so every native
 * URL (events, status, cancel, token) works for it. `afterCreate` runs between the metadata and the job,
 * for what a surface records beside the session.
 */
export async function startSession(d: SessionsDeps, res: Response, key: ApiKeyEntry, r: NativeRequest, reconciled: Map<string, number>, afterCreate?: (id: string) => Promise<unknown>): Promise<Started> {
  const model = r.model ?? d.cfg.DEFAULT_MODEL;
  const route = Object.hasOwn(d.cfg.routes, model) ? d.cfg.routes[model] : undefined;
  if (!route) return { ok: false, code: 'model_not_found', message: `The model ${JSON.stringify(model)} does not exist`, param: 'model' };
  if (!allowsModel(key, model)) return { ok: false, code: 'model_forbidden', message: `this API key may not use model ${JSON.stringify(model)}`, param: 'model' };
  if (r.mock && !route.allowMock) return { ok: false, code: 'invalid_request', message: `model ${model} does not accept mock controls`, param: 'mock' };
  const badTools = checkTools(d.cfg, route, r);
  if (badTools) return { ok: false, ...badTools };
  const id = newSessionId();
  const admitted = await admit(d, key, id, reconciled);
  if (!admitted.ok) return { ok: false, code: 'rate_limited', ...admissionRefusal(d, admitted) };
  const reqId = requestId(res);
  const job: GenerateJob = {
    sessionId: id,
    model,
    messages: r.messages,
    params: r.params,
    ...(r.mock ? { mock: r.mock } : {}),
    ...(reqId ? { requestId: reqId } : {}),
    keyId: key.id,
    ...(r.tools?.length ? { tools: r.tools, ...(r.toolChoice !== undefined ? { toolChoice: r.toolChoice } : {}) } : {}),
  };
  const createdAt = Date.now();
  try {
    await d.store.create(id, { model, createdAt, tenant: key.tenant, keyId: key.id });
    await afterCreate?.(id);
    await d.queue.add('generate', job, { jobId: id });
  } catch (err) {
    await d.limiter.release(key.id, id).catch(() => undefined);
    throw err;
  }
  d.log.info({ sessionId: id, model, surface: 'compat' }, 'session created');
  return { ok: true, id, model, createdAt };
}
