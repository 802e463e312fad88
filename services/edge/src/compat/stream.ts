import type { Request, Response } from 'express';
import { encodeComment } from '@relaycast/shared';
import type { AppDeps } from '../app.js';
import { clearDeadline } from '../deadline.js';
import { replayThenGoLive } from '../replay.js';
import { requestLog } from '../request-log.js';
import { Subscriber, type LiveEntry } from '../subscriber.js';

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
    res: Response,
    d: Pick<AppDeps, 'cfg' | 'onSlow'>,
    private readonly streaming: boolean,
    private readonly onEvent: (e: NativeEvent, sub: ProtocolSubscriber) => void,
    private readonly onFinish: (how: 'terminal' | 'ended' | 'failed') => void,
  ) {
    super(res, 0, d.cfg.SUBSCRIBER_MAX_QUEUE_BYTES, d.cfg.LIVE_BUFFER_MAX_EVENTS, d.onSlow);
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
    this.closed = true;
    this.onFinish('failed');
    if (this.streaming) this.res.destroy();
  }

  private finish(how: 'terminal' | 'ended'): void {
    if (this.finished) return;
    this.finished = true;
    this.onFinish(how);
    if (this.streaming) super.end();
    else this.closed = true;
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
export async function follow(d: AppDeps, req: Request, res: Response, id: string, sub: ProtocolSubscriber, before?: () => void): Promise<{ status: number; code: string; message: string; headers?: Record<string, string> } | undefined> {
  if (d.stats.openConnections >= d.cfg.MAX_CONNECTIONS) return { status: 503, code: 'edge_full', message: 'too many connections on this edge; retry', headers: { 'Retry-After': '1' } };
  d.stats.openConnections++;
  let topic: Awaited<ReturnType<AppDeps['hub']['attach']>> | undefined;
  let slot: { release(): void } | undefined;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    d.stats.openConnections--;
    slot?.release();
    sub.closed = true;
    if (topic) d.hub.detach(topic, sub);
  };
  res.once('close', release);
  let acquired: Awaited<ReturnType<AppDeps['connections']['acquire']>>;
  try {
    acquired = await d.connections.acquire(req.ip, id);
  } catch (err) {
    release();
    throw err;
  }
  if (acquired.ok) slot = acquired;
  if (released) return void slot?.release();
  if (!acquired.ok) {
    release();
    d.stats.limited[acquired.limit]++;
    return { status: 429, code: 'rate_limited', message: acquired.limit === 'ip' ? 'too many streams from this address' : 'too many streams open on this session', headers: { 'Retry-After': '5' } };
  }
  before?.();
  req.next = undefined;
  try {
    topic = await d.hub.attach(id, sub);
    if (released) return void d.hub.detach(topic, sub);
    const meta = await d.store.meta(id);
    await replayThenGoLive(sub, topic, d.store, d.cfg.REPLAY_PAGE_SIZE, meta?.seq ?? 0, d.stats);
  } catch (err) {
    requestLog(res, d.log).warn({ err }, 'compatible stream failed during replay; closing');
    sub.destroy();
  }
  return undefined;
}
