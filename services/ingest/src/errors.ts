import type { ErrorCode, EventOf } from '@relaycast/protocol';

/**
 * A failure that ends a generation with an `error` event. `retryable` says whether retrying the whole
 * request could succeed; ingest retries only before the first content token.
 */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(readonly code: ErrorCode, message: string, readonly retryable = false, readonly retryAfterMs?: number) {
    super(message);
  }
  toEvent(): EventOf<'error'> {
    return { type: 'error', code: this.code, message: this.message, retryable: this.retryable };
  }
}

/** Thrown to BullMQ when this worker hands a generation back: the job goes back to the queue. */
export class HandBack extends Error {
  override name = 'HandBack';
}

/**
 * Stops an attempt whose job lock turned out lost (job-lock.ts): another attempt owns, or will own, the
 * session, so like a fenced attempt it appends nothing more.
 */
export class LockLost extends HandBack {
  override name = 'LockLost';
}
