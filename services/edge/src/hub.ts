import type { RedisClient, SessionStore } from '@relaycast/store';
import type { Logger } from '@relaycast/shared';
import { routeNotifications, Topic } from './topic.js';
import type { EdgeStats } from './stats.js';
import type { Subscriber } from './subscriber.js';

/**
 * All sessions this edge serves, over one pub/sub connection (one per shard on a cluster). Notifications
 * use sharded pub/sub (SSUBSCRIBE), so on a cluster each costs only the shard that owns the session. The
 * Redis work per appended event is one notification per edge whatever the number of subscribers;
 * SSUBSCRIBE/SUNSUBSCRIBE happen once per session per edge, not per subscriber.
 */
export class Hub {
  private readonly topics = new Map<string, Topic>();
  private readonly byChannel = new Map<string, Topic>();
  private connectedOnce = false;
  private checkTimer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private readonly sub: RedisClient,
    private readonly store: SessionStore,
    private readonly pageSize: number,
    private readonly stats: EdgeStats,
    private readonly log: Logger,
    private readonly recentBytes = 262_144,
  ) {
    routeNotifications(sub, this.byChannel);
    // Messages published while the connection was down are lost; ioredis re-subscribes on its own, and
    // each topic then reads what it missed from the stream.
    sub.on('ready', () => {
      if (this.connectedOnce) this.catchUpAll();
      this.connectedOnce = true;
    });
    // On a cluster, each shard's subscriber reconnects on its own (after a failover, to the promoted
    // replica); the group reports when they are all subscribed again.
    sub.on('subscribersReady', () => this.catchUpAll());
  }

  private catchUpAll(): void {
    for (const t of this.topics.values()) void t.fill();
  }

  /**
   * Every `everyMs`, one HGET per session with subscribers here (not per subscriber, not per event): a session
   * whose metadata vanished is ended with `stream_lost`; one whose last seq is ahead of what this edge
   * dispatched missed notifications and catches up from the stream.
   */
  startChecks(everyMs: number): void {
    this.checkTimer = setInterval(() => void this.check(), everyMs);
    this.checkTimer.unref();
  }

  stopChecks(): void {
    clearInterval(this.checkTimer);
  }

  async check(): Promise<void> {
    if (this.checking || this.topics.size === 0) return;
    this.checking = true;
    try {
      const topics = [...this.topics.values()];
      const seqs = await this.store.lastSeqs(topics.map((t) => t.sessionId));
      topics.forEach((t, i) => {
        const seq = seqs[i];
        if (seq === null) {
          // Ending a stream as lost cannot be undone, and a read in the middle of a failover can miss a
          // key that is there: only the second miss in a row counts.
          if (!t.suspectLost) {
            t.suspectLost = true;
            return;
          }
          this.log.warn({ sessionId: t.sessionId }, 'session vanished from Redis; ending its subscribers with stream_lost');
          t.lost();
          this.drop(t);
          return;
        }
        t.suspectLost = false;
        if (seq !== undefined && t.lastSeq !== undefined && seq > t.lastSeq) void t.fill();
      });
    } catch (err) {
      this.log.debug({ err }, 'liveness check failed; will retry');
    } finally {
      this.checking = false;
    }
  }

  get sessionCount(): number {
    return this.topics.size;
  }

  /** Registers a subscriber (buffering live entries) and resolves once live notifications are flowing. */
  async attach(sessionId: string, s: Subscriber): Promise<Topic> {
    let t = this.topics.get(sessionId);
    if (!t) {
      t = new Topic(sessionId, this.store, this.pageSize, this.stats, (topic, err) => {
        this.log.warn({ sessionId: topic.sessionId, err }, 'topic catch-up failed; disconnecting its subscribers so they resume');
        topic.disconnectAll();
        this.drop(topic);
      }, this.recentBytes);
      const channel = this.store.keys.session(sessionId).live;
      this.topics.set(sessionId, t);
      this.byChannel.set(channel, t);
      t.ready = this.sub.ssubscribe(channel).then(() => undefined);
      t.ready.catch(() => this.drop(t!));
    }
    t.replaying.add(s);
    await t.ready;
    return t;
  }

  detach(t: Topic, s: Subscriber): void {
    t.remove(s);
    if (t.size === 0) this.drop(t);
  }

  private drop(t: Topic): void {
    if (this.topics.get(t.sessionId) !== t) return;
    this.topics.delete(t.sessionId);
    const channel = this.store.keys.session(t.sessionId).live;
    this.byChannel.delete(channel);
    this.sub.sunsubscribe(channel).catch(() => undefined);
  }

  subscriberCounts(): { live: number; replaying: number } {
    let live = 0;
    let replaying = 0;
    for (const t of this.topics.values()) {
      live += t.live.size;
      replaying += t.replaying.size;
    }
    return { live, replaying };
  }

  sessionSizes(): number[] {
    return [...this.topics.values()].map((t) => t.size);
  }

  /** Every open subscriber, for heartbeats and shutdown. */
  *subscribers(): Iterable<Subscriber> {
    for (const t of this.topics.values()) {
      yield* t.live;
      yield* t.replaying;
    }
  }
}
