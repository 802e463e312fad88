import { setTimeout as delay } from 'node:timers/promises';
import { isTerminal, type RelaycastEvent } from '@relaycast/protocol';
import { FencedError, SessionEndedError, SessionMissingError, type SessionStore } from '@relaycast/store';
import { mergeInto, owned } from './merge.js';

/**
 * Appends one attempt's events to its session, in order, with at most one round trip in flight.
 * Events pushed while a round trip is in flight wait for it, consecutive pieces merged into one event,
 * and go in the next. (Merging across a time window is the `coalesce` processor's job, ahead of this.)
 * A failed append is retried with the same seqs (idempotent) until `retryForMs` has passed.
 */
export class Appender {
  private pending: RelaycastEvent[] = [];
  private nextSeq: number;
  private flushing: Promise<void> | undefined;
  private scheduled = false;
  /** Set once an append failed for good; the generation must stop. */
  failure: Error | undefined;

  constructor(
    private readonly store: SessionStore,
    private readonly sessionId: string,
    private readonly attempt: number,
    lastSeq: number,
    private readonly retryForMs = 30_000,
    private readonly observe: { latency(seconds: number): void; retry(): void } = { latency: () => undefined, retry: () => undefined },
  ) {
    this.nextSeq = lastSeq + 1;
  }

  push(e: RelaycastEvent): void {
    if (this.failure) throw this.failure;
    if (!mergeInto(this.pending.at(-1), e)) this.pending.push(owned(e));
    if (!this.flushing && !this.scheduled) {
      // Next turn of the event loop: what is pushed in this one goes in the same round trip.
      this.scheduled = true;
      setImmediate(() => this.kick());
    }
  }

  /** Appends `terminal` after everything pending and resolves once it is stored. */
  async finish(terminal: RelaycastEvent): Promise<void> {
    if (!isTerminal(terminal)) throw new Error('finish() needs a terminal event');
    if (this.failure) throw this.failure;
    this.pending.push(terminal);
    this.kick();
    while (this.flushing) await this.flushing;
    if (this.failure) throw this.failure;
  }

  private kick(): void {
    this.scheduled = false;
    if (this.flushing || this.pending.length === 0 || this.failure) return;
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
      // A push that landed after the loop's last check but before this callback was not scheduled.
      if (this.pending.length && !this.failure) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length && !this.failure) {
      const batch = this.pending;
      this.pending = [];
      const first = this.nextSeq;
      this.nextSeq += batch.length;
      try {
        await this.appendWithRetry(first, batch);
      } catch (e) {
        this.failure = e as Error;
      }
    }
  }

  private async appendWithRetry(first: number, batch: RelaycastEvent[]): Promise<void> {
    const deadline = Date.now() + this.retryForMs;
    for (let i = 0; ; i++) {
      try {
        const t0 = performance.now();
        await this.store.append(this.sessionId, this.attempt, first, batch);
        this.observe.latency((performance.now() - t0) / 1000);
        return;
      } catch (e) {
        // Fencing and a finished or missing session are answers, not outages: retrying cannot help.
        if (e instanceof FencedError || e instanceof SessionEndedError || e instanceof SessionMissingError) throw e;
        if (Date.now() >= deadline) throw e;
        this.observe.retry();
        await delay(Math.min(100 * 2 ** i, 2_000));
      }
    }
  }
}
