import type { KeySpace, RedisClient } from '@relaycast/store';

/**
 * Cancel requests, over one pub/sub connection per ingest process: the worker running a session listens
 * on that session's control channel for as long as it runs it.
 *
 * Watchers are kept per attempt, not per session: after a Redis outage the same process can run a stale
 * attempt and the attempt that took over from it side by side for a moment, and the stale one stopping
 * must not unsubscribe the new one (its cancels would then never arrive).
 */
export class Control {
  private readonly watchers = new Map<string, Set<() => void>>();

  constructor(private readonly sub: RedisClient, private readonly keys: KeySpace) {
    sub.on('smessage', (channel: string) => {
      for (const onCancel of this.watchers.get(channel) ?? []) onCancel();
    });
  }

  /**
   * Resolves once the subscription is active, so a cancel sent after this point is not missed. Returns the
   * function that ends this watch (and the subscription, once no attempt here watches the session).
   */
  async watch(sessionId: string, onCancel: () => void): Promise<() => void> {
    const channel = this.keys.session(sessionId).control;
    let set = this.watchers.get(channel);
    if (!set) this.watchers.set(channel, (set = new Set()));
    // A fresh function per watch, so two attempts passing the same callback still count twice.
    const entry = () => onCancel();
    set.add(entry);
    const unwatch = () => {
      if (!set.delete(entry) || set.size > 0) return;
      if (this.watchers.get(channel) === set) this.watchers.delete(channel);
      this.sub.sunsubscribe(channel).catch(() => undefined);
    };
    try {
      await this.sub.ssubscribe(channel);
    } catch (err) {
      unwatch();
      throw err;
    }
    return unwatch;
  }
}
