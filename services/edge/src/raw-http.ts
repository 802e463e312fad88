import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ERRORS, type ErrorCode } from '@relaycast/protocol';
import type { Logger } from '@relaycast/shared';
import { corsHeaders } from './cors.js';
import { SECURITY_HEADERS } from './security-headers.js';
import { REQUEST_ID } from './request-log.js';

/**
 * One request answered outside Express (the event stream, routes/events.ts): it gets what Express's
 * middleware gives every other route (security headers, X-Request-Id, CORS, the deadline, one log line and
 * the response counter), then either a JSON error or its socket, taken out of node's HTTP machinery.
 */
export interface RawDeps {
  log: Logger;
  corsOrigins: ReadonlySet<string>;
  requestTimeoutMs: number;
  /** Called once per request when it is over: a response counted by route and status. */
  count(method: string, route: string, status: number): void;
}

export class RawExchange {
  readonly reqId: string;
  readonly method: string;
  private readonly started = performance.now();
  private common: Record<string, string> | undefined;
  // Let go of once the socket is taken: a stream that lives for hours holds none of them.
  private http: { req: IncomingMessage; res: ServerResponse } | undefined;
  private bindings: Record<string, string>;
  private logger: Logger | undefined;
  private deadline: NodeJS.Timeout | undefined;
  /** An answer (error, 204 or stream headers) was given; nothing else may be written by the handler. */
  answered = false;
  status = 0;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    private readonly d: RawDeps,
    readonly route: string,
  ) {
    this.http = { req, res };
    this.method = req.method ?? 'GET';
    const given = req.headers['x-request-id'];
    // Flat: a generated UUID is a chain of string pieces, and a stream keeps its id for hours.
    this.reqId = Buffer.from(typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID(), 'latin1').toString('latin1');
    this.bindings = { reqId: this.reqId };
    this.common = { ...SECURITY_HEADERS, 'X-Request-Id': this.reqId, Vary: 'Origin', ...corsHeaders(d.corsOrigins, req.headers.origin) };
    this.deadline = setTimeout(() => {
      this.refuse('timeout', `no answer within ${d.requestTimeoutMs} ms (the service's storage may be unreachable); retry`, { 'Retry-After': '1', Connection: 'close' });
    }, d.requestTimeoutMs);
    res.once('close', () => this.done(res.writableFinished));
  }

  /** The request (until its socket is taken). */
  get req(): IncomingMessage {
    if (!this.http) throw new Error('RawExchange: the socket was taken');
    return this.http.req;
  }

  /** The request's logger, made on first use (a stream lives for hours and mostly logs nothing). */
  log(): Logger {
    return (this.logger ??= this.d.log.child(this.bindings));
  }

  bind(fields: Record<string, string>): void {
    this.bindings = { ...this.bindings, ...fields };
    this.logger = undefined;
  }

  private answer(status: number): boolean {
    if (this.answered) return false;
    this.answered = true;
    this.status = status;
    clearTimeout(this.deadline);
    this.deadline = undefined;
    return true;
  }

  /** Every error answer has the same shape: `{error: {code, message}}`. */
  /** Answers with `code`'s error and the status the catalogue gives it (as sendError does for Express). */
  refuse(code: ErrorCode, message: string, headers: Record<string, string> = {}): void {
    const status = ERRORS[code].status;
    if (!this.http || !this.answer(status)) return;
    const body = JSON.stringify({ error: { code, message } });
    this.http.res.writeHead(status, { ...this.common, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), ...headers });
    this.http.res.end(this.method === 'HEAD' ? undefined : body);
  }

  noContent(): void {
    if (!this.http || !this.answer(204)) return;
    this.http.res.writeHead(204, this.common);
    this.http.res.end();
  }

  /**
   * Writes the status line, the common headers and `headers` (which override them), then `body`, in one write straight to the
   * socket, and takes the socket out of node's HTTP machinery (see {@link ownSocket}). Undefined when the
   * client already left. The request's log line and count come when the socket closes, then `onClose`.
   */
  takeSocket(headers: Readonly<Record<string, string>>, body: Buffer | undefined, onClose?: () => void): Socket | undefined {
    if (!this.http) return undefined;
    const { req, res } = this.http;
    const socket = req.socket;
    if (!this.answer(200) || socket.destroyed) return undefined;
    let head = 'HTTP/1.1 200 OK\r\n';
    const all = { ...this.common, ...headers };
    for (const name in all) head += `${name}: ${all[name]}\r\n`;
    head += '\r\n';
    ownSocket(req, res);
    this.http = undefined;
    this.common = undefined;
    socket.once('close', () => {
      this.done(true);
      onClose?.();
    });
    socket.write(body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1'));
    return socket;
  }

  private finished = false;
  private done(completed: boolean): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.deadline);
    // As Express's counter: a request the client left before any answer is logged, not counted.
    if (this.status) this.d.count(this.method, this.route, this.status);
    this.log().info({ method: this.method, route: this.route, status: this.status, ms: Math.round(performance.now() - this.started), completed }, 'request completed');
  }
}

/** Marks a socket listener of the edge's own that {@link ownSocket} must leave in place. */
export const KEEP_ON_DETACH = Symbol('keep on detach');
type Listener = ((...args: unknown[]) => void) & { listener?: Listener; [KEEP_ON_DETACH]?: true };

/** A listener {@link ownSocket} keeps when it takes the socket out of node's HTTP server. */
export function keptOnDetach<F extends (...args: never[]) => void>(f: F): F {
  (f as unknown as Listener)[KEEP_ON_DETACH] = true;
  return f;
}

// What node's HTTP server listens to on a connection it parses (see node's _http_server.js).
const SERVER_SOCKET_EVENTS = ['data', 'end', 'close', 'drain', 'error', 'timeout', 'resume', 'pause'] as const;

interface NodeParser {
  _consumed?: boolean;
  unconsume?(): void;
  remove?(): void;
  close?(): void;
  onIncoming?: unknown;
  socket?: unknown;
  incoming?: unknown;
}

/**
 * Detaches a connection whose response headers were written by hand from node's HTTP server, as node
 * itself does for an `Upgrade` request: the response, the request and the parser let go of it, so a
 * stream that lives for hours holds only its socket (measured with 5,000 idle streams on Node 20: 3.3 KB of
 * heap per stream detached, 4.4 KB held as a response). The socket keeps reading, so a client that leaves is
 * noticed at once; anything it sends is ignored, and a half-close ends the stream.
 */
export function ownSocket(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket as Socket & { parser?: NodeParser | null };
  res.detachSocket(socket);
  for (const ev of SERVER_SOCKET_EVENTS) {
    for (const l of socket.rawListeners(ev) as Listener[]) {
      // The edge's own listeners stay (the socket guard counts the socket until it closes).
      if (!(l.listener ?? l)[KEEP_ON_DETACH]) socket.removeListener(ev, l);
    }
  }
  if (socket.parser) freeParser(socket.parser);
  socket.parser = null;
  (req as { parser?: unknown }).parser = null;
  socket.on('error', ignore);
  socket.on('data', ignore);
  socket.on('end', destroyOnEnd);
}

// Its own function: a closure made next to the socket's listeners would share their scope and keep the
// parser (and through its callbacks the request) alive as long as the socket.
function freeParser(parser: NodeParser): void {
  if (parser._consumed) parser.unconsume?.();
  parser._consumed = false;
  // Off the server's list of connections, so its header and request timeouts never look at this one.
  parser.remove?.();
  parser.onIncoming = null;
  parser.socket = null;
  parser.incoming = null;
  // After the current stack unwinds, as node does for a parser it does not reuse.
  setImmediate(() => parser.close?.());
}

function destroyOnEnd(this: Socket): void {
  this.destroy();
}

function ignore(): void {}

/**
 * The client's address as Express's `req.ip` gives it (proxy-addr's rule): walk X-Forwarded-For from the
 * socket's peer towards the client for as long as each hop is trusted (`trust`, Express's compiled
 * `trust proxy` setting).
 */
export function clientAddress(req: IncomingMessage, trust: (addr: string, i: number) => boolean): string | undefined {
  const peer = req.socket.remoteAddress;
  const given = req.headers['x-forwarded-for'];
  const xff = Array.isArray(given) ? given.join(',') : given;
  if (peer === undefined || !xff) return peer;
  const addrs = [peer, ...xff.split(',').map((a) => a.trim()).reverse()];
  for (let i = 0; i < addrs.length - 1; i++) if (!trust(addrs[i]!, i)) return addrs[i];
  return addrs[addrs.length - 1];
}
