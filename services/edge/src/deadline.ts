import type { NextFunction, Request, Response } from 'express';
import { sendError } from './http-error.js';

/**
 * Answers 503 `timeout` when a request has had no answer within `ms` (its handler still waits, typically on a
 * Redis that is down: the client queues commands rather than fail them during a short restart). An event
 * stream is answered once its headers are sent, so the deadline never cuts a stream. `Connection: close`,
 * because the late handler's own answer has nowhere to go.
 */
export function deadline(ms: number) {
  return (_req: Request, res: Response, next: NextFunction): void => {
    const timer = setTimeout(() => {
      if (res.headersSent) return;
      res.locals.timedOut = true;
      sendError(res, 503, 'timeout', `no answer within ${ms} ms (the service's storage may be unreachable); retry`, { 'Retry-After': '1', Connection: 'close' });
    }, ms);
    res.once('close', () => clearTimeout(timer));
    next();
  };
}

/** Whether {@link deadline} already answered this request (anything the handler does later is moot). */
export function timedOut(res: Response): boolean {
  return res.locals.timedOut === true;
}
