import type { KeySpace, RedisClient } from '@relaycast/shared';

/**
 * Cancel requests, over one pub/sub connection per ingest process: the worker running a session listens
 * on that session's control channel for as long as it runs it.
 */
export class Control {
  private readonly watchers = new Map<string, () => void>();

  constructor(private readonly sub: RedisClient, private readonly keys: KeySpace) {
    sub.on('smessage', (channel: string) => this.watchers.get(channel)?.());
  }

  /** Resolves once the subscription is active, so a cancel sent after this point is not missed. */
  async watch(sessionId: string, onCancel: () => void): Promise<void> {
    const channel = this.keys.session(sessionId).control;
    this.watchers.set(channel, onCancel);
    await this.sub.ssubscribe(channel);
  }

  unwatch(sessionId: string): void {
    const channel = this.keys.session(sessionId).control;
    if (this.watchers.delete(channel)) this.sub.sunsubscribe(channel).catch(() => undefined);
  }
}
