import { isTerminal } from '@relaycast/protocol';
import { parseLiveMessage, type RedisClient, type SessionStore, type StoredEntry } from '@relaycast/store';
import { encodeFrame } from './sse.js';
import type { EdgeStats } from './stats.js';
import type { LiveEntry, Subscriber } from './subscriber.js';

/**
 * Where each live notification lands: the hub's one pub/sub connection (hub.ts subscribes a channel per
 * session with subscribers here) hands the message to its session's topic, and delivery goes on below.
 */
export function routeNotifications(sub: RedisClient, byChannel: ReadonlyMap<string, Topic>): void {
  sub.on('smessage', (channel: string, message: string) => {
    byChannel.get(channel)?.onEntries(parseLiveMessage(message));
  });
}

export function toLiveEntry(e: StoredEntry): LiveEntry {
  return { seq: e.seq, frame: encodeFrame({ id: String(e.seq), event: e.type, data: e.data }), terminal: isTerminal(e) };
}

/**
 * The stream has no entries between `after` and `next`: they were trimmed, or Redis lost them (failover,
 * AOF not yet on disk). Said in-band, never skipped silently. Its id is next-1, so a client that resumes
 * from here does not hear about the same hole twice.
 */
export function gapEntry(after: number, next: number): LiveEntry {
  return { seq: next - 1, frame: encodeFrame({ id: String(next - 1), event: 'gap', data: JSON.stringify({ requested: String(after), resumedFrom: String(next) }) }), terminal: false, gap: true };
}

/**
 * The session's stream is gone from Redis (expired, or lost with its data): a terminal `error` frame, sent
 * before the stream ends. The one place it is made; the topic's liveness check and a replay both send it.
 */
export const STREAM_LOST = encodeFrame({ event: 'error', data: JSON.stringify({ code: 'stream_lost', message: 'the session stream was lost', retryable: false }) });

/**
 * Topics with entries dispatched in this turn of the event loop: once its I/O phase is over (setImmediate),
 * each writes them to every live subscriber as one buffer, one write per socket. Not at the end of the tick
 * (nextTick): node hands the pub/sub connection's bytes over one read at a time, and at max rate Redis's
 * notifications span several reads, each of which would cost every socket its own write (a write, not the
 * bytes, is what fan-out pays for). The check phase follows the poll phase at once, so no latency is added.
 */
const dirty: Topic[] = [];
function flushDirty(): void {
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
}

/**
 * The subscribers of one session on this edge. Live entries arrive from the hub's single pub/sub
 * connection; each is encoded once and its bytes written to every live subscriber.
 *
 * `lastSeq` is the last seq dispatched. Seqs are contiguous, so a notification that skips ahead
 * (pub/sub lost messages while Redis reconnected) is detected and the missing entries are read from the
 * stream before anything newer is dispatched: live subscribers never see a hole.
 */
export class Topic {
  lastSeq: number | undefined;
  /** The last liveness check found no metadata; a second miss in a row ends the session as lost. */
  suspectLost = false;
  readonly live = new Set<Subscriber>();
  readonly replaying = new Set<Subscriber>();
  /** Resolves once the hub's SUBSCRIBE for this session is acknowledged. */
  ready!: Promise<void>;
  private filling = false;
  private backlog: StoredEntry[] = [];
  /** Entries dispatched this tick, not yet written to the live subscribers. */
  private pending: LiveEntry[] = [];
  /**
   * Recently seen entries, encoded, by seq (insertion order, byte-bounded). A resume storm (thousands of
   * clients replaying the same recent events) is served from here: one read and one encoding per entry,
   * not one per client. Safe because a seq never names two different entries.
   */
  private readonly recent = new Map<number, LiveEntry>();
  private recentBytes = 0;
  private lastRun: { entries: LiveEntry[]; bytes: Buffer } | undefined;

  constructor(
    readonly sessionId: string,
    private readonly store: SessionStore,
    private readonly pageSize: number,
    private readonly stats: EdgeStats,
    private readonly onFillError: (t: Topic, e: unknown) => void,
    private readonly recentMaxBytes = 262_144,
  ) {}

  remember(e: LiveEntry): void {
    if (this.recentMaxBytes === 0 || this.recent.has(e.seq)) return;
    this.recent.set(e.seq, e);
    this.recentBytes += e.frame.length;
    for (const [seq, old] of this.recent) {
      if (this.recentBytes <= this.recentMaxBytes) break;
      this.recent.delete(seq);
      this.recentBytes -= old.frame.length;
    }
  }

  /**
   * Cached entries from `seq` on, consecutive, at most `max`, with their frames joined. The last run is
   * kept: in a resume storm thousands of clients ask for the same one, and each gets the same bytes.
   */
  recentRun(seq: number, max: number): { entries: LiveEntry[]; bytes: Buffer } | undefined {
    const entries: LiveEntry[] = [];
    for (let e; entries.length < max && (e = this.recent.get(seq + entries.length)); ) entries.push(e);
    if (entries.length === 0) return undefined;
    const memo = this.lastRun;
    if (memo && memo.entries[0] === entries[0] && memo.entries.length === entries.length) return memo;
    this.lastRun = { entries, bytes: Buffer.concat(entries.map((e) => e.frame)) };
    return this.lastRun;
  }

  get size(): number {
    return this.live.size + this.replaying.size;
  }

  onEntries(entries: StoredEntry[]): void {
    if (this.filling) {
      for (const e of entries) this.backlog.push(e);
      return;
    }
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (this.lastSeq !== undefined) {
        if (e.seq <= this.lastSeq) continue;
        if (e.seq > this.lastSeq + 1) {
          this.backlog = entries.slice(i);
          void this.fill();
          return;
        }
      }
      this.dispatch(toLiveEntry(e));
    }
  }

  /** Reads everything after lastSeq from the stream (after a reconnect, or to close a hole). */
  async fill(): Promise<void> {
    if (this.filling || this.lastSeq === undefined) return;
    this.filling = true;
    try {
      for (;;) {
        const page = await this.store.range(this.sessionId, this.lastSeq + 1, this.pageSize);
        for (const e of page) {
          if (e.seq <= this.lastSeq) continue;
          // XRANGE started at lastSeq+1, so a later first entry means the ones between are gone for good.
          if (e.seq > this.lastSeq + 1) {
            this.stats.gaps++;
            this.dispatch(gapEntry(this.lastSeq, e.seq));
          }
          this.dispatch(toLiveEntry(e));
        }
        if (page.length < this.pageSize) break;
      }
    } catch (err) {
      this.filling = false;
      this.backlog = [];
      this.onFillError(this, err);
      return;
    }
    this.filling = false;
    const backlog = this.backlog;
    this.backlog = [];
    if (backlog.length) this.onEntries(backlog);
  }

  private dispatch(e: LiveEntry): void {
    this.lastSeq = e.seq;
    if (!e.gap) this.remember(e);
    this.stats.eventsDelivered += this.live.size;
    this.stats.bytesDelivered += this.live.size * e.frame.length;
    if (this.live.size > 0) {
      if (this.pending.length === 0 && dirty.push(this) === 1) setImmediate(flushDirty);
      this.pending.push(e);
    }
    for (const s of this.replaying) s.hold(e);
  }

  /** Writes this tick's entries to every live subscriber: encoded and joined once, one write per socket. */
  flush(): void {
    const entries = this.pending;
    if (entries.length === 0) return;
    this.pending = [];
    const bytes = entries.length === 1 ? entries[0]!.frame : Buffer.concat(entries.map((e) => e.frame));
    for (const s of this.live) s.deliverBatch(entries, bytes);
  }

  /**
   * Moves a subscriber that finished its replay into the live set. Only valid when it has written
   * everything this topic dispatched (lastSeq ≥ topic.lastSeq); the caller re-reads history otherwise.
   * `streamSeq` is how far the stream is known to reach: the topic starts from there, never from the
   * subscriber's cursor, which a client may set past the end of the stream.
   */
  promote(sub: Subscriber, streamSeq: number): boolean {
    if (this.lastSeq !== undefined && sub.lastSeq < this.lastSeq) return false;
    this.lastSeq ??= Math.min(sub.lastSeq, streamSeq);
    this.replaying.delete(sub);
    sub.goLive();
    this.live.add(sub);
    return true;
  }

  remove(sub: Subscriber): void {
    this.live.delete(sub);
    this.replaying.delete(sub);
  }

  /**
   * The session is gone from Redis (expired, or Redis lost its data): nothing more will ever arrive, and
   * nothing may be replayed under these ids again. Subscribers get a terminal `error` and their stream ends;
   * a reconnect then gets 404.
   */
  lost(): void {
    this.flush();
    for (const s of [...this.live, ...this.replaying]) {
      s.write(STREAM_LOST);
      s.end();
    }
    this.live.clear();
    this.replaying.clear();
  }

  /** Ends every subscriber's connection (they resume with Last-Event-ID, here or on another edge). */
  disconnectAll(): void {
    for (const s of [...this.live, ...this.replaying]) s.destroy();
    this.live.clear();
    this.replaying.clear();
    this.lastSeq = undefined;
  }
}
