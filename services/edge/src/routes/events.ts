import type { Request, Response } from 'express';
import { encodeComment, encodeRetry, InvalidCursorError, isSessionId, type Config, type Logger, type SessionStore } from '@relaycast/shared';
import { owns, sessionCaller, type EdgeAuth } from '../auth.js';
import type { ConnectionLimits } from '../connection-limits.js';
import type { Hub } from '../hub.js';
import { requestCursor } from '../cursor.js';
import { clearDeadline } from '../deadline.js';
import { sendError } from '../http-error.js';
import { replayThenGoLive } from '../replay.js';
import { requestLog } from '../request-log.js';
import type { EdgeStats } from '../stats.js';
import { Subscriber } from '../subscriber.js';

export interface EventsDeps {
  cfg: Config;
  store: SessionStore;
  hub: Hub;
  log: Logger;
  stats: EdgeStats;
  auth: EdgeAuth;
  connections: ConnectionLimits;
  onSlow(sub: Subscriber): void;
}

// A connection slot frees when any stream of that client or session closes; there is no exact moment.
const CONNECTION_RETRY_AFTER_S = '5';
// setTimeout's longest delay; a token living longer (a longer TOKEN_TTL_SECONDS before a restart) ends early.
const MAX_TIMER_MS = 2 ** 31 - 1;

const FLUSH = encodeComment('ok');

/** `GET /v1/sessions/:id/events`: replay from Last-Event-ID, then live, as text/event-stream. */
export function eventsHandler(d: EventsDeps) {
  const retry = encodeRetry(d.cfg.SSE_RETRY_MS);
  return async (req: Request, res: Response): Promise<void> => {
    const id = String(req.params.id);
    if (!isSessionId(id)) return sendError(res, 'session_not_found', 'no such session');
    // The token is checked by its signature alone (no Redis round trip); the tenant is checked against
    // the session's owner once its metadata is read.
    const caller = sessionCaller(d.auth, req, res, id, { query: true, keys: false });
    if (caller?.kind !== 'token') return;
    let cursor: number;
    try {
      cursor = requestCursor(req);
    } catch (e) {
      if (e instanceof InvalidCursorError) return sendError(res, 'invalid_cursor', e.message);
      throw e;
    }
    if (d.stats.openConnections >= d.cfg.MAX_CONNECTIONS) return sendError(res, 'edge_full', 'too many connections on this edge; retry', { 'Retry-After': '1' });
    // The slot is taken before the first await, so a flood of requests cannot all pass the check together,
    // and released on 'close', which is registered here because a client may leave during the lookups (a
    // listener added after the socket closed would never run, leaking the slots and the subscription).
    d.stats.openConnections++;
    let sub: Subscriber | undefined;
    let topic: Awaited<ReturnType<Hub['attach']>> | undefined;
    let slot: { release(): void } | undefined;
    let expiry: NodeJS.Timeout | undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      d.stats.openConnections--;
      clearTimeout(expiry);
      slot?.release();
      if (sub) sub.closed = true;
      if (topic && sub) d.hub.detach(topic, sub);
    };
    res.once('close', release);
    const failed = (err: unknown): never => {
      release();
      throw err;
    };

    const meta = await d.store.meta(id).catch(failed);
    if (released) return;
    if (!meta) {
      release();
      return sendError(res, 'session_not_found', 'no such session (unknown or expired)');
    }
    if (!owns(caller, meta)) {
      release();
      return sendError(res, 'forbidden', 'this session belongs to another tenant');
    }
    // At or past the terminal event there is nothing more to send; 204 is what stops EventSource reconnecting.
    if (meta.terminal !== undefined && cursor >= meta.terminal) {
      release();
      res.status(204).end();
      return;
    }
    const acquired = await d.connections.acquire(req.ip, id).catch(failed);
    if (acquired.ok) slot = acquired;
    // The client may have gone while the slots were taken; release() has then run already.
    if (released) return slot?.release();
    if (!acquired.ok) {
      release();
      d.stats.limited[acquired.limit]++;
      const why = acquired.limit === 'ip' ? 'too many event streams from this address' : 'too many event streams open on this session';
      return sendError(res, 'rate_limited', why, { 'Retry-After': CONNECTION_RETRY_AFTER_S });
    }
    // A cursor past meta.seq means Redis lost acknowledged entries this client saw (failover): it resumes
    // from there, and new entries keep their seqs, so it gets no duplicate and no reused id.

    // The body is delimited by closing the connection, not by chunked encoding (RFC 9112 §6.3): every
    // frame is then one plain socket write of the shared Buffer, with no per-chunk framing to build. An
    // SSE stream ends in a close anyway, and the client's next request opens a new connection.
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'close',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    clearDeadline(res);
    // Express's router keeps its continuation (and through it the whole dispatch state) on the request; a
    // stream has no further middleware to reach and lives for hours (about 6% of an idle stream's heap, measured).
    req.next = undefined;
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);

    if (cursor > 0) d.stats.resumes++;
    sub = new Subscriber(res, cursor, d.cfg.SUBSCRIBER_MAX_QUEUE_BYTES, d.cfg.LIVE_BUFFER_MAX_EVENTS, d.onSlow);
    sub.write(retry);
    sub.write(FLUSH);
    // A stream lives no longer than its token: at expiry it ends like a drain (no terminal event), and the
    // client resumes from its last id with a fresh token. One timer per stream, nothing per event.
    const ending = sub;
    expiry = setTimeout(() => {
      d.stats.tokenExpiries++;
      ending.end();
    }, Math.min(caller.claims.expiresAt - Date.now(), MAX_TIMER_MS));
    expiry.unref();
    try {
      topic = await d.hub.attach(id, sub);
      if (released) return d.hub.detach(topic, sub);
      await replayThenGoLive(sub, topic, d.store, d.cfg.REPLAY_PAGE_SIZE, meta.seq, d.stats);
    } catch (err) {
      requestLog(res, d.log).warn({ err }, 'subscriber failed during replay; closing so it resumes');
      sub.destroy();
    }
  };
}
