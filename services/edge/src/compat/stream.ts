import type { Request, Response } from 'express';
import { encodeComment } from '../sse.js';
import type { AppDeps } from '../app.js';
import { clearDeadline } from '../deadline.js';
import { replayThenGoLive } from '../replay.js';
import { requestLog } from '../request-log.js';
import { Subscriber, type LiveEntry } from '../subscriber.js';
import type { Refusal } from './start.js';

/** One native event as stored: its seq (0 for in-band notices that are not stream entries), type and JSON data. */
export interface NativeEvent {
  seq: number;
  type: string;
  data: string;
}

const TERMINAL = new Set(['done', 'error', 'cancelled']);

/** Reads back the fields of a frame the edge encoded (`id:`, `event:`, one `data:` line: the data is JSON). */
export function decodeFrame(frame: Buffer): NativeEvent {
  let seq = 0;
  let type = 'message';
  const data: string[] = [];
  for (const line of frame.toString('utf8').split('\n')) {
    if (line.startsWith('id: ')) seq = Number(line.slice(4));
    else if (line.startsWith('event: ')) type = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  return { seq, type, data: data.join('\n') };
}

/**
 * A subscriber of the session's native stream that hands each event to a protocol instead of writing the
 * native frame: the hub, the replay and the live fan-out stay the native ones, so a compatible stream
 * resumes, fans out and survives edge kills exactly as `/v1/sessions/:id/events` does. `streaming: false`
 * collects without writing (a JSON answer follows): heartbeats are then dropped, and the end writes nothing.
 */
export class ProtocolSubscriber extends Subscriber {
  private finished = false;

  constructor(
    private readonly res: Response,
    d: Pick<AppDeps, 'cfg' | 'onSlow'>,
    private readonly streaming: boolean,
    private readonly onEvent: (e: NativeEvent, sub: ProtocolSubscriber) => void,
    private readonly onFinish: (how: 'terminal' | 'ended' | 'failed') => void,
  ) {
    // Frames go to the socket under the response, whose close-delimited headers startSse() flushed.
    super(res.socket!, 0, d.cfg.SUBSCRIBER_MAX_QUEUE_BYTES, d.cfg.LIVE_BUFFER_MAX_EVENTS, d.onSlow);
  }

  /** Writes bytes of the protocol (a no-op once closed). */
  send(buf: Buffer): void {
    if (this.streaming) super.write(buf);
  }

  override deliver(e: LiveEntry): void {
    if (this.closed) return;
    if (e.seq <= this.lastSeq) {
      if (e.terminal) this.finish('terminal');
      return;
    }
    this.onEvent(decodeFrame(e.frame), this);
    this.lastSeq = e.seq;
    if (e.terminal) this.finish('terminal');
  }

  // Replay pages and live batches arrive as joined native frames; the protocol needs them one by one.
  override deliverRun(entries: readonly LiveEntry[]): void {
    for (const e of entries) this.deliver(e);
  }

  override deliverBatch(entries: readonly LiveEntry[]): void {
    for (const e of entries) this.deliver(e);
  }

  /** Heartbeats pass through when streaming; a native frame written directly (stream_lost) goes to the protocol. */
  override write(buf: Buffer): boolean {
    if (this.closed) return false;
    if (buf[0] === 0x3a) {
      if (this.streaming) return super.write(buf);
      return true;
    }
    const e = decodeFrame(buf);
    this.onEvent({ ...e, seq: 0 }, this);
    if (TERMINAL.has(e.type)) this.finish('terminal');
    return true;
  }

  override end(): void {
    this.finish('ended');
  }

  override destroy(): void {
    if (this.finished) return;
    this.finished = true;
    this.gone();
    this.onFinish('failed');
    if (this.streaming) this.res.destroy();
  }

  private finish(how: 'terminal' | 'ended'): void {
    if (this.finished) return;
    this.finished = true;
    this.onFinish(how);
    if (this.streaming) super.end();
    else this.gone();
  }
}

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'close',
  'X-Accel-Buffering': 'no',
};

/** Sends the headers of a close-delimited SSE answer (as the native events handler does) and a first comment. */
export function startSse(req: Request, res: Response, headers: Record<string, string>): void {
  res.useChunkedEncodingByDefault = false;
  res.shouldKeepAlive = false;
  res.writeHead(200, { ...SSE_HEADERS, ...headers });
  res.flushHeaders();
  clearDeadline(res);
  req.socket.setNoDelay(true);
  req.socket.setTimeout(0);
  res.write(encodeComment('ok'));
}

/**
 * Follows a session from its first event to its terminal one with `sub`, counting the connection like the
 * native stream does (MAX_CONNECTIONS, the per-address and per-session limits). Returns a refusal instead
 * when a limit says no; the caller answers it. Everything is released when the response closes.
 */
export async function follow(d: AppDeps, req: Request, res: Response, id: string, sub: ProtocolSubscriber, before?: () => void): Promise<Refusal | undefined> {
  if (d.stats.openConnections >= d.cfg.MAX_CONNECTIONS) return { code: 'edge_full', message: 'too many connections on this edge; retry', headers: { 'Retry-After': '1' } };
  d.stats.openConnections++;
  let topic: Awaited<ReturnType<AppDeps['hub']['attach']>> | undefined;
  let slot: { release(): void } | undefined;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    d.stats.openConnections--;
    slot?.release();
    sub.gone();
    if (topic) d.hub.detach(topic, sub);
  };
  res.once('close', release);
  let admitted: Awaited<ReturnType<AppDeps['connections']['admit']>>;
  try {
    // The caller authorized the request against the session's tenant already; the admission script checks
    // the owner again, so it is given the session's own.
    const meta = await d.store.meta(id);
    admitted = await d.connections.admit(req.ip, id, { tenant: meta?.tenant ?? '', cursor: 0, take: true });
  } catch (err) {
    release();
    throw err;
  }
  if (admitted.ok) slot = admitted;
  if (released) return void slot?.release();
  if (!admitted.ok) {
    release();
    return refusalOf(d, admitted.why);
  }
  before?.();
  req.next = undefined;
  try {
    topic = await d.hub.attach(id, sub);
    if (released) return void d.hub.detach(topic, sub);
    await replayThenGoLive(sub, topic, d.store, d.cfg.REPLAY_PAGE_SIZE, admitted.seq, d.stats);
  } catch (err) {
    requestLog(res, d.log).warn({ err }, 'compatible stream failed during replay; closing');
    sub.destroy();
  }
  return undefined;
}

function refusalOf(d: AppDeps, why: 'not_found' | 'forbidden' | 'finished' | 'ip' | 'session'): Refusal {
  if (why === 'not_found' || why === 'finished') return { code: 'session_not_found', message: 'no such session (unknown or expired)' };
  if (why === 'forbidden') return { code: 'forbidden', message: 'this session belongs to another tenant' };
  d.stats.limited[why]++;
  return { code: 'rate_limited', message: why === 'ip' ? 'too many streams from this address' : 'too many streams open on this session', headers: { 'Retry-After': '5' } };
}
