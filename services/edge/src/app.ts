import express, { type NextFunction, type Request, type Response } from 'express';
import type { Queue } from 'bullmq';
import { pingWithin, RateLimiter, type Limiter, type RedisClient, type SessionStore } from '@relaycast/store';
import type { GenerateJob, Logger } from '@relaycast/shared';
import type { EdgeConfig } from './config.js';
import { allowsModel } from './api-keys.js';
import { apiKeyOf, requireApiKey, type EdgeAuth } from './auth.js';
import type { ConnectionLimits } from './connection-limits.js';
import { compatRoutes } from './compat/index.js';
import { cors } from './cors.js';
import type { Hub } from './hub.js';
import type { EdgeMetrics } from './metrics.js';
import type { EdgeStats } from './stats.js';
import { deadline, timedOut } from './deadline.js';
import { sendError } from './http-error.js';
import { requestContext, requestLog } from './request-log.js';
import { modelsHandler } from './routes/models.js';
import { cancelHandler, createSessionHandler, mintTokenHandler, statusHandler } from './routes/sessions.js';
import { securityHeaders } from './security-headers.js';
import { statusReadLimit } from './status-reads.js';
import type { Subscriber } from './subscriber.js';
import { webRoutes } from './web.js';
import { publishRoutes } from './publish/index.js';
import { registerRoutes, type Route } from './route-table.js';

export interface AppDeps {
  cfg: EdgeConfig;
  store: SessionStore;
  hub: Hub;
  queue: Queue<GenerateJob>;
  redis: RedisClient;
  log: Logger;
  stats: EdgeStats;
  metrics: EdgeMetrics;
  /** Shared with the drain: while true, readiness fails and new work is refused. */
  state: { draining: boolean };
  onSlow(sub: Subscriber): void;
  auth: EdgeAuth;
  limiter: Limiter;
  connections: ConnectionLimits;
}

/** Express 5 forwards rejected promises to the error handler, so handlers can simply be async. */
export function createApp(d: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Who the client is for the per-address limit: the socket's peer, unless that peer is a proxy the
  // operator named (TRUST_PROXY), whose X-Forwarded-For is then believed. Never trusted by default.
  app.set('trust proxy', d.cfg.trustProxy);

  app.use(securityHeaders);
  app.use(requestContext(d.log));
  app.use(d.metrics.httpCounter);
  app.use(cors(d.cfg.corsOrigins));
  probes(app, d);

  // A draining edge takes no new work: load balancers move traffic away on the failing /readyz, and any
  // request that still arrives is told to retry elsewhere.
  app.use((_req, res, next) => {
    if (d.state.draining) return sendError(res, 'draining', 'this edge is shutting down; retry', { 'Retry-After': '1', Connection: 'close' });
    next();
  });

  // Every API request gets an answer within REQUEST_TIMEOUT_MS: while Redis is unreachable its commands wait
  // in the client's queue (they must not fail during a short restart), so the deadline is kept here.
  app.use('/v1', deadline(d.cfg.REQUEST_TIMEOUT_MS));
  registerRoutes(app, apiRoutes(d));
  // OpenAI-compatible (/openai/v1) and AI SDK (/ai-sdk/chat) protocols over sessions (docs/compat.md).
  app.use(compatRoutes(d));
  // The demo page (web/): after the API, so an API path never reaches the file system lookup's answer.
  app.use(webRoutes(d.cfg.WEB_DIR));
  app.use((_req, res) => sendError(res, 'not_found', 'no such route'));
  app.use(errorHandler(d));
  return app;
}

/** Metrics, liveness and readiness: answered while draining too (readiness then fails). */
function probes(app: express.Express, d: AppDeps): void {
  app.get('/metrics', async (_req, res) => {
    res.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
  });
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', async (_req, res) => {
    if (d.state.draining) return sendError(res, 'draining', 'this edge is shutting down');
    if (await pingWithin(d.redis, 1_000)) res.json({ ok: true });
    else sendError(res, 'not_ready', 'redis unreachable');
  });
}

/**
 * The native API, one table: each route's registration and, for its path, the 405 with `Allow` for every
 * other method. The key is checked before the body is read: an anonymous caller cannot make the edge parse
 * 256 KiB. Events, cancel and status authenticate inside: they accept a session's token as well as a key.
 */
function apiRoutes(d: AppDeps): Route[] {
  const json = express.json({ limit: d.cfg.MAX_BODY_BYTES, type: ['application/json', 'application/*+json'] });
  const apiKey = requireApiKey(d.auth);
  // Publish API (docs/publishing.md): producer sessions are created and cancelled by its handlers, which
  // pass every other request on to the model sessions' handlers.
  const publish = publishRoutes(d, json);
  return [
    ['post', '/v1/sessions', apiKey, json, publish.create, createSessionHandler(d)],
    ['post', '/v1/sessions/:id/token', apiKey, mintTokenHandler(d)],
    // GET and HEAD are answered before Express (routes/events.ts, edge.ts); only a request that route
    // declines (another letter case, an absolute-form URL) reaches this entry, which keeps the 405s.
    ['get', '/v1/sessions/:id/events', (_req, res) => sendError(res, 'not_found', 'no such route')],
    ['post', '/v1/sessions/:id/cancel', publish.cancel, cancelHandler(d)],
    ...publish.routes,
    // Status reads are rate limited (per address, per token, over all edges) before the session is read.
    ['get', '/v1/sessions/:id', statusReadLimit({ cfg: d.cfg, rates: new RateLimiter(d.redis), keys: d.limiter.keys, stats: d.stats }), statusHandler(d)],
    // Only the models the caller's key may use.
    ['get', '/v1/models', apiKey, modelsHandler(d.cfg.routes, (model, res) => allowsModel(apiKeyOf(res), model))],
  ];
}

function errorHandler(d: AppDeps) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    // The deadline answered already; the handler that finished late has nothing left to say.
    if (timedOut(res)) return;
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.too.large') return sendError(res, 'body_too_large', `request body exceeds ${d.cfg.MAX_BODY_BYTES} bytes`);
    if (e.type === 'entity.parse.failed') return sendError(res, 'invalid_json', 'request body is not valid JSON');
    if (e.status === 415) return sendError(res, 'unsupported_encoding', e.message ?? 'unsupported body encoding');
    if (e.status && e.status >= 400 && e.status < 500) return sendError(res, 'bad_request', e.message ?? 'bad request');
    requestLog(res, d.log).error({ err, path: req.path }, 'unhandled error');
    sendError(res, 'internal', 'internal error');
  };
}
