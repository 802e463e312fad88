import express, { type NextFunction, type Request, type Response } from 'express';
import { listModels } from '@relaycast/shared';
import { allowsModel } from '../api-keys.js';
import type { AppDeps } from '../app.js';
import { deadline, timedOut } from '../deadline.js';
import { requestLog } from '../request-log.js';
import { chatAuth, chatHandler, chatTokenHandler, resumeHandler, stopHandler } from './ai-sdk.js';
import { chatCompletionsHandler } from './chat.js';
import { keyOf, requireKey, sendNativeError, sendOpenAIError } from './errors.js';
import { cancelResponseHandler, createResponseHandler, retrieveResponseHandler } from './responses.js';

/**
 * The ecosystem's protocols over Relaycast sessions (docs/compat.md): OpenAI's at `/openai/v1` and the AI
 * SDK's UI message stream at `/ai-sdk/chat`. Every generation is an ordinary session.
 */
export function compatRoutes(d: AppDeps): express.Router {
  const r = express.Router();
  const json = express.json({ limit: d.cfg.MAX_BODY_BYTES, type: ['application/json', 'application/*+json'] });
  const timed = deadline(d.cfg.REQUEST_TIMEOUT_MS);
  const key = requireKey(d.auth);
  const created = Math.floor(Date.now() / 1000);

  r.get('/openai/v1/models', timed, key, (_req, res) => {
    const data = listModels(d.cfg.routes, (id) => allowsModel(keyOf(res), id)).map((m) => ({ id: m.id, object: 'model', created, owned_by: `relaycast:${m.provider}` }));
    res.json({ object: 'list', data });
  });
  r.get('/openai/v1/models/:model', timed, key, (req, res) => {
    const m = listModels(d.cfg.routes, (id) => id === req.params.model && allowsModel(keyOf(res), id))[0];
    if (!m) return sendOpenAIError(res, 'model_not_found', `The model '${String(req.params.model)}' does not exist`, { param: 'model' });
    res.json({ id: m.id, object: 'model', created, owned_by: `relaycast:${m.provider}` });
  });
  // A request answered in JSON after the whole generation lets go of the deadline once its session started.
  r.post('/openai/v1/chat/completions', timed, key, json, chatCompletionsHandler(d));
  r.post('/openai/v1/responses', timed, key, json, createResponseHandler(d));
  r.get('/openai/v1/responses/:id', timed, key, retrieveResponseHandler(d));
  r.post('/openai/v1/responses/:id/cancel', timed, key, cancelResponseHandler(d));
  r.use('/openai/v1', (req, res) => sendOpenAIError(res, 'not_found', `no route ${req.method} /openai/v1${req.path}`));
  r.use('/openai/v1', (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (timedOut(res)) return;
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.too.large') return sendOpenAIError(res, 'body_too_large', `request body exceeds ${d.cfg.MAX_BODY_BYTES} bytes`);
    if (e.type === 'entity.parse.failed') return sendOpenAIError(res, 'invalid_json', 'request body is not valid JSON');
    if (e.status && e.status >= 400 && e.status < 500) return sendOpenAIError(res, 'bad_request', e.message ?? 'bad request', { status: e.status });
    requestLog(res, d.log).error({ err, path: req.path }, 'unhandled error');
    sendOpenAIError(res, 'internal', 'internal error');
  });

  const chat = chatAuth(d);
  // The turn streams (startSse lets go of the deadline), so the deadline only bounds the lookups before it.
  r.post('/ai-sdk/chat', timed, chat, json, chatHandler(d));
  r.get('/ai-sdk/chat/:chatId/stream', timed, chat, resumeHandler(d));
  r.post('/ai-sdk/chat/:chatId/stop', timed, chat, stopHandler(d));
  r.post('/ai-sdk/chat/:chatId/token', timed, chat, chatTokenHandler(d));
  r.use('/ai-sdk', (_req, res) => sendNativeError(res, 'not_found', 'no such route'));
  return r;
}
