import type { Request, Response } from 'express';
import { InvalidCursorError, isSessionId } from '@relaycast/shared';
import { owns, sessionCaller } from '../auth.js';
import { requestCursor } from '../cursor.js';
import { sendError } from '../http-error.js';
import type { EventsDeps } from './events.js';

/** What GET sends for a stream it opens (routes/events.ts); a HEAD answer carries the same headers. */
const STREAM_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
};

/**
 * `HEAD /v1/sessions/:id/events`: the status and headers GET would answer with, and no body (RFC 9110
 * §9.3.2). The GET handler writes its frames straight to the socket, past node's HEAD handling, so HEAD
 * is answered here: the same checks (token, cursor, session, tenant, finished), no connection slot taken,
 * no subscription, and the connection stays usable for the client's next request.
 */
export function eventsHeadHandler(d: Pick<EventsDeps, 'store' | 'auth'>) {
  return async (req: Request, res: Response): Promise<void> => {
    const id = String(req.params.id);
    if (!isSessionId(id)) return sendError(res, 'session_not_found', 'no such session');
    const caller = sessionCaller(d.auth, req, res, id, { query: true, keys: false });
    if (caller?.kind !== 'token') return;
    let cursor: number;
    try {
      cursor = requestCursor(req);
    } catch (e) {
      if (e instanceof InvalidCursorError) return sendError(res, 'invalid_cursor', e.message);
      throw e;
    }
    const meta = await d.store.meta(id);
    if (!meta) return sendError(res, 'session_not_found', 'no such session (unknown or expired)');
    if (!owns(caller, meta)) return sendError(res, 'forbidden', 'this session belongs to another tenant');
    if (meta.terminal !== undefined && cursor >= meta.terminal) {
      res.status(204).end();
      return;
    }
    res.writeHead(200, STREAM_HEADERS);
    res.end();
  };
}
