import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { InvalidCursorError, isSessionId } from '@relaycast/protocol';
import type { SessionStore } from '@relaycast/store';
import type { Logger } from '@relaycast/shared';
import type { EdgeConfig } from '../config.js';
import { encodeComment, encodeRetry } from '../sse.js';
import { callerFields, checkSessionCaller, type EdgeAuth } from '../auth.js';
import type { ConnectionLimits } from '../connection-limits.js';
import type { Hub } from '../hub.js';
import type { Topic } from '../topic.js';
import { requestCursor } from '../cursor.js';
import { clientAddress, RawExchange, type RawDeps } from '../raw-http.js';
import { replayThenGoLive } from '../replay.js';
import type { EdgeStats } from '../stats.js';
import { Subscriber } from '../subscriber.js';

export interface EventsDeps {
  cfg: EdgeConfig;
  store: SessionStore;
  hub: Hub;
  log: Logger;
  stats: EdgeStats;
  auth: EdgeAuth;
  connections: ConnectionLimits;
  onSlow(sub: Subscriber): void;
  /** While true, new work is refused (the edge drains). */
  state: { draining: boolean };
  count: RawDeps['count'];
  /** Express's compiled `trust proxy` setting, so the address limit sees the client `req.ip` would. */
  trust(addr: string, i: number): boolean;
}

/** The route as logs and metrics name it (Express's pattern). */
export const EVENTS_ROUTE = '/v1/sessions/:id/events';
// Express matches a trailing slash too (non-strict routing).
const EVENTS_PATH = /^\/v1\/sessions\/([^/?#]+)\/events\/?(?:\?(.*))?$/s;
// A connection slot frees when any stream of that client or session closes; there is no exact moment.
const CONNECTION_RETRY_AFTER_S = '5';
// setTimeout's longest delay; a token living longer (a longer TOKEN_TTL_SECONDS before a restart) ends early.
const MAX_TIMER_MS = 2 ** 31 - 1;
// The body is delimited by closing the connection, not by chunked encoding (RFC 9112 §6.3): every frame is
// then one plain socket write of the shared Buffer, with no per-chunk framing to build.
const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'close',
  'X-Accel-Buffering': 'no',
};
const FLUSH = encodeComment('ok');

/**
 * `GET /v1/sessions/:id/events`: replay from Last-Event-ID, then live, as text/event-stream. Answered
 * before Express (a stream is most of an edge's requests and lives for hours): returns false for any
 * other request, which then goes to Express. `HEAD` gets the same checks and the headers only.
 */
export function eventsRoute(d: EventsDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const raw: RawDeps = { log: d.log, corsOrigins: new Set(d.cfg.corsOrigins), requestTimeoutMs: d.cfg.REQUEST_TIMEOUT_MS, count: d.count };
  const opening = Buffer.concat([encodeRetry(d.cfg.SSE_RETRY_MS), FLUSH]);
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const m = EVENTS_PATH.exec(req.url ?? '');
    if (!m) return false;
    const ex = new RawExchange(req, res, raw, EVENTS_ROUTE);
    open(d, ex, m[1]!, m[2] ?? '', opening).catch((err: unknown) => {
      ex.log().error({ err }, 'unhandled error');
      ex.refuse('internal', 'internal error');
    });
    return true;
  };
}

async function open(d: EventsDeps, ex: RawExchange, rawId: string, search: string, opening: Buffer): Promise<void> {
  let id: string;
  try {
    id = decodeURIComponent(rawId);
  } catch {
    id = '';
  }
  if (isSessionId(id)) ex.bind({ sessionId: id });
  if (d.state.draining) return ex.refuse('draining', 'this edge is shutting down; retry', { 'Retry-After': '1', Connection: 'close' });
  if (!isSessionId(id)) return ex.refuse('session_not_found', 'no such session');
  const query = parseQuery(search);
  // The token is checked by its signature alone; the tenant is checked against the session's owner by
  // the admission script.
  const caller = checkSessionCaller(d.auth, ex.req.headers.authorization, query.token, id, { query: true, keys: false });
  if ('code' in caller) return ex.refuse(caller.code, caller.message, caller.headers);
  if (caller.kind !== 'token') return ex.refuse('unauthorized', 'not a session token');
  ex.bind(callerFields(caller));
  let cursor: number;
  try {
    cursor = requestCursor(ex.req);
  } catch (e) {
    if (e instanceof InvalidCursorError) return ex.refuse('invalid_cursor', e.message);
    throw e;
  }
  const head = ex.method === 'HEAD';
  if (d.stats.openConnections >= d.cfg.MAX_CONNECTIONS) return ex.refuse('edge_full', 'too many connections on this edge; retry', { 'Retry-After': '1' });
  // The slot is counted before the first await, so a flood of requests cannot all pass the check together.
  d.stats.openConnections++;
  let admitted;
  try {
    admitted = await d.connections.admit(clientAddress(ex.req, d.trust), id, { tenant: caller.claims.tenant, cursor, take: !head });
  } finally {
    d.stats.openConnections--;
  }
  if (!admitted.ok) return refuseAdmission(d, ex, admitted.why);
  // The client left, or the deadline answered, while the script ran.
  if (ex.answered || ex.req.socket.destroyed) return admitted.release();
  if (head) {
    const socket = ex.takeSocket(SSE_HEADERS, undefined);
    socket?.end(() => socket.destroy());
    return;
  }
  d.stats.openConnections++;
  stream(d, ex, id, cursor, admitted.seq, caller.claims.expiresAt, admitted.release, opening);
}

function refuseAdmission(d: EventsDeps, ex: RawExchange, why: 'not_found' | 'forbidden' | 'finished' | 'ip' | 'session'): void {
  if (why === 'not_found') return ex.refuse('session_not_found', 'no such session (unknown or expired)');
  if (why === 'forbidden') return ex.refuse('forbidden', 'this session belongs to another tenant');
  // At or past the terminal event there is nothing more to send; 204 is what stops EventSource reconnecting.
  if (why === 'finished') return ex.noContent();
  d.stats.limited[why]++;
  const message = why === 'ip' ? 'too many event streams from this address' : 'too many event streams open on this session';
  ex.refuse('rate_limited', message, { 'Retry-After': CONNECTION_RETRY_AFTER_S });
}

/**
 * Sends the headers, takes the socket, and registers the subscriber with the hub in the same tick (so a
 * drain or shutdown that walks the hub's subscribers always finds it), then replays and goes live.
 * A cursor past `seq` means Redis lost acknowledged entries this client saw (failover): it resumes from
 * there, and new entries keep their seqs, so it gets no duplicate and no reused id.
 */
function stream(d: EventsDeps, ex: RawExchange, id: string, cursor: number, seq: number, expiresAt: number, release: () => void, opening: Buffer): void {
  let sub: Subscriber | undefined;
  let expiry: NodeJS.Timeout | undefined;
  let attached: Promise<Topic> | undefined;
  const socket = ex.takeSocket(SSE_HEADERS, opening, () => {
    d.stats.openConnections--;
    clearTimeout(expiry);
    release();
    if (!sub) return;
    sub.gone();
    const s = sub;
    void attached?.then((topic) => d.hub.detach(topic, s), () => undefined);
  });
  if (!socket) {
    d.stats.openConnections--;
    return release();
  }
  socket.setNoDelay(true);
  socket.setTimeout(0);
  if (cursor > 0) d.stats.resumes++;
  const s = (sub = new Subscriber(socket, cursor, d.cfg.SUBSCRIBER_MAX_QUEUE_BYTES, d.cfg.LIVE_BUFFER_MAX_EVENTS, d.onSlow));
  attached = d.hub.attach(id, s);
  // A stream lives no longer than its token: at expiry it ends like a drain (no terminal event), and the
  // client resumes from its last id with a fresh token. One timer per stream, nothing per event.
  expiry = setTimeout(() => {
    d.stats.tokenExpiries++;
    s.end();
  }, Math.min(expiresAt - Date.now(), MAX_TIMER_MS));
  expiry.unref();
  void attached
    .then((topic) => (s.closed ? undefined : replayThenGoLive(s, topic, d.store, d.cfg.REPLAY_PAGE_SIZE, seq, d.stats)))
    .catch((err: unknown) => {
      ex.log().warn({ err }, 'subscriber failed during replay; closing so it resumes');
      s.destroy();
    });
}
