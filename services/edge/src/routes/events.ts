import type { Request, Response } from 'express';
import { encodeComment, encodeRetry, InvalidCursorError, isSessionId, parseCursor, type Config, type Logger, type SessionStore } from '@relaycast/shared';
import type { Hub } from '../hub.js';
import { sendError } from '../http-error.js';
import { replayThenGoLive } from '../replay.js';
import { requestLog } from '../request-log.js';
import { Subscriber } from '../subscriber.js';

export interface EventsDeps {
  cfg: Config;
  store: SessionStore;
  hub: Hub;
  log: Logger;
  connections: { open: number };
  onSlow(sub: Subscriber): void;
}

const FLUSH = encodeComment('ok');

/** `GET /v1/sessions/:id/events`: replay from Last-Event-ID, then live, as text/event-stream. */
export function eventsHandler(d: EventsDeps) {
  const retry = encodeRetry(d.cfg.SSE_RETRY_MS);
  return async (req: Request, res: Response): Promise<void> => {
    const id = String(req.params.id);
    if (!isSessionId(id)) return sendError(res, 404, 'session_not_found', 'no such session');
    let cursor: number;
    try {
      // The browser resends Last-Event-ID itself on reconnect; the query form serves clients that cannot set headers.
      const header = req.get('last-event-id');
      cursor = parseCursor(header !== undefined ? header : typeof req.query.lastEventId === 'string' ? req.query.lastEventId : undefined);
    } catch (e) {
      if (e instanceof InvalidCursorError) return sendError(res, 400, 'invalid_cursor', e.message);
      throw e;
    }
    if (d.connections.open >= d.cfg.MAX_CONNECTIONS) return sendError(res, 503, 'edge_full', 'too many connections on this edge; retry', { 'Retry-After': '1' });

    const meta = await d.store.meta(id);
    if (!meta) return sendError(res, 404, 'session_not_found', 'no such session (unknown or expired)');
    // At or past the terminal event there is nothing more to send; 204 is what stops EventSource reconnecting.
    if (meta.terminal !== undefined && cursor >= meta.terminal) {
      res.status(204).end();
      return;
    }
    // A cursor the stream never reached means the stream this client read is gone (Redis lost its data).
    if (cursor > meta.seq) return sendError(res, 409, 'cursor_ahead', 'Last-Event-ID is beyond the end of this session; the stream was lost');

    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(retry);
    res.write(FLUSH);
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);

    d.connections.open++;
    if (cursor > 0) d.hub.counters.resumes++;
    const sub = new Subscriber(res, cursor, d.cfg.SUBSCRIBER_MAX_QUEUE_BYTES, d.cfg.LIVE_BUFFER_MAX_EVENTS, d.onSlow);
    let topic: Awaited<ReturnType<Hub['attach']>> | undefined;
    res.on('close', () => {
      sub.closed = true;
      d.connections.open--;
      if (topic) d.hub.detach(topic, sub);
    });
    try {
      topic = await d.hub.attach(id, sub);
      if (sub.closed) return d.hub.detach(topic, sub);
      await replayThenGoLive(sub, topic, d.store, d.cfg.REPLAY_PAGE_SIZE, meta.seq);
    } catch (err) {
      requestLog(res, d.log).warn({ err }, 'subscriber failed during replay; closing so it resumes');
      sub.destroy();
    }
  };
}
