import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { isSessionId } from '@relaycast/protocol';
import type { Logger } from '@relaycast/shared';

// A caller's (or the load balancer's) id is kept only when it is short and plain, so it cannot forge log lines.
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const SESSION_PATH = /^\/v1\/sessions\/([^/]+)/;
// Probes and scrapes arrive every few seconds from every checker; logging each at info drowns the rest.
const QUIET = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The request's logger: every line carries its request id and, when the path names one, its session id.
 * Made on first use: an SSE request lives for hours and mostly logs nothing, so it should not hold a child
 * logger the whole time.
 */
export function requestLog(res: Response, fallback: Logger): Logger {
  const made = res.locals.log as Logger | undefined;
  if (made) return made;
  const bindings = res.locals.logBindings as Record<string, string> | undefined;
  if (!bindings) return fallback;
  const log = fallback.child(bindings);
  res.locals.log = log;
  return log;
}

/** Adds `sessionId` to the request's logger once a handler knows it (a new session). */
export function bindSession(res: Response, fallback: Logger, sessionId: string): Logger {
  const log = requestLog(res, fallback).child({ sessionId });
  res.locals.log = log;
  return log;
}

/** Adds who is calling (API key id and tenant, never the key) to every later line of the request. */
export function bindCaller(res: Response, fields: { tenant: string; keyId?: string }): void {
  const made = res.locals.log as Logger | undefined;
  if (made) res.locals.log = made.child(fields);
  else res.locals.logBindings = { ...(res.locals.logBindings as Record<string, string> | undefined), ...fields };
}

export function requestId(res: Response): string | undefined {
  return res.locals.reqId as string | undefined;
}

/**
 * Gives each request an id (echoed as X-Request-Id), a child logger carrying it (and the session id when
 * the path names one), and one completion line.
 */
export function requestContext(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    const given = req.get('x-request-id');
    const reqId = given && REQUEST_ID.test(given) ? given : randomUUID();
    const sid = SESSION_PATH.exec(req.path)?.[1];
    res.locals.reqId = reqId;
    res.locals.logBindings = sid && isSessionId(sid) ? { reqId, sessionId: sid } : { reqId };
    res.setHeader('X-Request-Id', reqId);
    res.once('close', () => {
      // Express sets req.route when a route matched; the raw path could carry anything, so it is not logged.
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      const line = { method: req.method, route, status: res.statusCode, ms: Math.round(performance.now() - started), completed: res.writableFinished };
      const l = requestLog(res, log);
      if (QUIET.has(req.path)) l.debug(line, 'request completed');
      else l.info(line, 'request completed');
    });
    next();
  };
}
