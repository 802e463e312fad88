import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ProducerStore, type Limiter, type RedisClient, type SessionStore } from '@relaycast/store';
import type { Logger } from '@relaycast/shared';
import type { EdgeConfig } from '../config.js';
import type { EdgeAuth } from '../auth.js';
import type { Handler, Route } from '../route-table.js';
import type { EdgeStats } from '../stats.js';
import { cancelProducerSession, claimProducer, createProducerSession, producerState, publishBatch, type PublishRouteDeps } from './routes.js';
import { isStreamBody, publishStream } from './stream.js';

export { startProducerSweeper } from './sweeper.js';

/** The same store options as the session store: one retention, one open TTL, one MAXLEN. */
export function producerStoreFor(redis: RedisClient, store: SessionStore): ProducerStore {
  return new ProducerStore(redis, store.keys, store.opts);
}

/**
 * The publish API (docs/publishing.md). Registered before the model session routes: `POST /v1/sessions`
 * and `POST …/cancel` handle producer sessions here and pass every other request on.
 */
export function publishRoutes(d: { cfg: EdgeConfig; store: SessionStore; redis: RedisClient; limiter: Limiter; auth: EdgeAuth; stats: EdgeStats; log: Logger }, json: RequestHandler): { create: Handler; cancel: Handler; routes: Route[] } {
  const deps: PublishRouteDeps & { store: SessionStore } = { ...d, producers: producerStoreFor(d.redis, d.store) };
  const stream = publishStream(deps);
  const batch = publishBatch(deps);
  const publish: Handler = (req: Request, res: Response, next: NextFunction) => {
    if (isStreamBody(req)) return void stream(req, res).catch(next);
    json(req, res, (err?: unknown) => (err ? next(err) : void batch(req, res).catch(next)));
  };
  return {
    create: createProducerSession(deps),
    cancel: cancelProducerSession(deps),
    routes: [
      ['post', '/v1/sessions/:id/publish', publish],
      ['post', '/v1/sessions/:id/producer', claimProducer(deps)],
      ['get', '/v1/sessions/:id/producer', producerState(deps)],
    ],
  };
}

