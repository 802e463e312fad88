import type { Redis } from 'ioredis';
import { parseLiveMessage, type Logger, type SessionStore } from '@relaycast/shared';
import { newDeliveryCounters, type DeliveryCounters } from './metrics.js';
import { Topic } from './topic.js';
import type { Subscriber } from './subscriber.js';

/**
 * All sessions this edge serves, over one pub/sub connection. The Redis work per appended event is one
 * notification per edge whatever the number of subscribers; SUBSCRIBE/UNSUBSCRIBE happen once per session
 * per edge, not per subscriber.
 */
export class Hub {
  private readonly topics = new Map<string, Topic>();
  private readonly byChannel = new Map<string, Topic>();
  private connectedOnce = false;

  constructor(
    private readonly sub: Redis,
    private readonly store: SessionStore,
    private readonly pageSize: number,
    private readonly log: Logger,
    readonly counters: DeliveryCounters = newDeliveryCounters(),
  ) {
    sub.on('message', (channel: string, message: string) => {
      this.byChannel.get(channel)?.onEntries(parseLiveMessage(message));
    });
    // Messages published while the connection was down are lost; ioredis re-subscribes on its own, and
    // each topic then reads what it missed from the stream.
    sub.on('ready', () => {
      if (this.connectedOnce) for (const t of this.topics.values()) void t.fill();
      this.connectedOnce = true;
    });
  }

  get sessionCount(): number {
    return this.topics.size;
  }

  /** Registers a subscriber (buffering live entries) and resolves once live notifications are flowing. */
  async attach(sessionId: string, s: Subscriber): Promise<Topic> {
    let t = this.topics.get(sessionId);
    if (!t) {
      t = new Topic(sessionId, this.store, this.pageSize, this.counters, (topic, err) => {
        this.log.warn({ sessionId: topic.sessionId, err }, 'topic catch-up failed; disconnecting its subscribers so they resume');
        topic.disconnectAll();
        this.drop(topic);
      });
      const channel = this.store.keys.session(sessionId).live;
      this.topics.set(sessionId, t);
      this.byChannel.set(channel, t);
      t.ready = this.sub.subscribe(channel).then(() => undefined);
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
    this.sub.unsubscribe(channel).catch(() => undefined);
  }

  /** Subscriber count of each session (scraped by /metrics; O(sessions), never on the delivery path). */
  *sessionSizes(): Iterable<number> {
    for (const t of this.topics.values()) yield t.size;
  }

  /** Every open subscriber, for heartbeats and shutdown. */
  *subscribers(): Iterable<Subscriber> {
    for (const t of this.topics.values()) {
      yield* t.live;
      yield* t.replaying;
    }
  }
}
