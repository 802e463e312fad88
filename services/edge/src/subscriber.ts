import type { Socket } from 'node:net';

/**
 * Sockets written to in the current tick stay corked until the tick ends, so everything dispatched in one
 * tick (a batch of entries, several notifications read in one chunk) leaves as one segment per socket:
 * fewer syscalls here, fewer wake-ups for the client.
 */
const corked: Subscriber[] = [];
function uncorkAll(): void {
  for (const sub of corked) sub.flush();
  corked.length = 0;
}

/**
 * Heartbeat periods, half a heartbeat interval each. A comment is only for a stream that has been silent: one
 * that was written to in the last two periods (events flowing) is skipped, so a busy fan-out never pays a
 * second write per socket for it, while no stream stays silent longer than the interval.
 */
let period = 0;
export function heartbeat(subs: Iterable<Subscriber>, comment: Buffer): void {
  period++;
  for (const s of subs) if (period - s.wrotePeriod >= 2) s.write(comment);
}

/** One appended event as the edge holds it: encoded once, shared by every subscriber of the session. */
export interface LiveEntry {
  seq: number;
  frame: Buffer;
  terminal: boolean;
  /** A synthetic `gap` notice (not a stream entry; never cached). */
  gap?: boolean;
}

/**
 * One SSE connection. While it replays history it buffers live entries (bounded); once live, the topic
 * writes to it directly. Fast subscribers never wait for slow ones: a write never blocks, and a
 * subscriber whose unsent bytes pass the bound is disconnected so it can resume from its last id.
 */
export class Subscriber {
  /** Seq of the last event written to this connection. */
  lastSeq: number;
  /** The heartbeat period of its last write (its headers count: they were written just before). */
  wrotePeriod = period;
  /**
   * Its life: 'replaying' from registration (live entries are held while history is written), 'live' once
   * the topic writes to it directly, 'closed' for good. Changed only by this class's methods.
   */
  private phase: 'replaying' | 'live' | 'closed' = 'replaying';
  /** Live entries that arrived during replay; null once it overflowed (replay then re-reads history). */
  private held: LiveEntry[] | null = [];
  /**
   * Frames go straight to the socket, which the events route took out of node's HTTP machinery once it
   * wrote the headers (the body is close-delimited): no request, response or parser is held per stream.
   */
  constructor(
    private readonly socket: Socket,
    cursor: number,
    private readonly maxQueueBytes: number,
    private readonly maxBuffered: number,
    private readonly onSlow: (sub: Subscriber) => void,
  ) {
    this.lastSeq = cursor;
  }

  get live(): boolean {
    return this.phase === 'live';
  }

  get closed(): boolean {
    return this.phase === 'closed';
  }

  /** The connection is gone (its socket closed): nothing more is written. */
  gone(): void {
    this.phase = 'closed';
    this.held = null;
  }

  /** The topic took it into its live set: held entries are no longer needed. */
  goLive(): void {
    if (this.phase !== 'replaying') return;
    this.phase = 'live';
    this.held = null;
  }

  /** Live entries held since the last call (null: they overflowed), and holds anew. */
  takeHeld(): LiveEntry[] | null {
    const held = this.held;
    if (this.phase === 'replaying') this.held = [];
    return held;
  }

  /** Bytes accepted by write() but not yet handed to the kernel. */
  queuedBytes(): number {
    return this.socket.writableLength;
  }

  /** Writes raw bytes; returns false when the caller should wait for 'drain' before writing more. */
  write(buf: Buffer): boolean {
    if (this.closed) return false;
    this.wrotePeriod = period;
    if (!this.socket.writableCorked) {
      if (corked.length === 0) process.nextTick(uncorkAll);
      this.socket.cork();
      corked.push(this);
    }
    return this.socket.write(buf);
  }

  /**
   * Ends this tick's cork. Only what the kernel would not take counts against the bound: a batch that was
   * merely written in one tick is not a slow consumer.
   */
  flush(): void {
    this.socket.uncork();
    if (this.live && !this.closed && this.socket.writableLength > this.maxQueueBytes) this.onSlow(this);
  }

  /**
   * Writes an entry if it is the next one for this connection; ends the response after a terminal entry.
   * A terminal entry at or before the cursor ends it too: the client claims to be past the session's end
   * (an id from another session, or from before a failover), and nothing will ever follow. A clean end
   * makes it reconnect, and the reconnect gets 204.
   */
  deliver(e: LiveEntry): void {
    if (this.closed) return;
    if (e.seq <= this.lastSeq) {
      if (e.terminal) this.end();
      return;
    }
    this.write(e.frame);
    this.lastSeq = e.seq;
    if (e.terminal) this.end();
  }

  /**
   * Writes consecutive entries (a replay page), `bytes` being their frames joined: one write when all of
   * them are new to this connection, entry by entry otherwise.
   */
  deliverRun(entries: readonly LiveEntry[], bytes: Buffer): void {
    if (this.someWritten(entries)) return;
    this.write(bytes);
    this.wrote(entries);
  }

  /**
   * Live delivery of one tick's entries: straight to the socket (one write, nothing to cork), then the
   * slow-consumer bound, as {@link flush} does after a corked tick.
   */
  deliverBatch(entries: readonly LiveEntry[], bytes: Buffer): void {
    if (this.someWritten(entries)) return;
    this.socket.write(bytes);
    this.wrotePeriod = period;
    this.wrote(entries);
    if (!this.closed && !this.socket.writableCorked && this.socket.writableLength > this.maxQueueBytes) this.onSlow(this);
  }

  /** Closed, or some of `entries` were written already (its replay overlapped): then delivered one by one. */
  private someWritten(entries: readonly LiveEntry[]): boolean {
    if (this.closed || entries.length === 0) return true;
    if (entries[0]!.seq > this.lastSeq) return false;
    for (const e of entries) this.deliver(e);
    return true;
  }

  private wrote(entries: readonly LiveEntry[]): void {
    const last = entries[entries.length - 1]!;
    this.lastSeq = last.seq;
    // Seqs increase and nothing follows a terminal entry, so only the last can be one.
    if (last.terminal) this.end();
  }

  hold(e: LiveEntry): void {
    if (this.held === null) return;
    if (this.held.length >= this.maxBuffered) this.held = null;
    else this.held.push(e);
  }

  end(): void {
    if (this.closed) return;
    this.gone();
    // A close-delimited body ends when the connection does: close once the kernel has taken the rest,
    // without waiting for the client's own FIN (a client that never sends one would hold the socket).
    this.socket.end(() => this.socket.destroy());
  }

  destroy(): void {
    this.gone();
    this.socket.destroy();
  }

  /**
   * Half the slow-consumer bound is waiting to be sent: a replay waits for drained() before writing more.
   * Half, not the socket's 16 KiB high-water mark: a replay of small events then runs without a pause
   * (a resume storm is thousands of them at once), while one of big events stays bounded and never
   * reaches the live set with a queue that would cut it as slow.
   */
  get backedUp(): boolean {
    // Past the high-water mark too, so the socket has flagged that it needs a drain and drained() waits for it.
    return !this.closed && this.socket.writableLength > Math.max(this.maxQueueBytes / 2, this.socket.writableHighWaterMark);
  }

  drained(): Promise<void> {
    if (this.closed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }
}
