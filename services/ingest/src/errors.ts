import type { ErrorCode, EventOf } from '@relaycast/shared';

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

/** Aborts a generation because a client asked to cancel it. */
export class CancelRequested extends Error {
  override name = 'CancelRequested';
}

/** Aborts a generation because this worker is shutting down: the job goes back to the queue. */
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

/** Aborts a generation that ran past GENERATION_TIMEOUT_MS. */
export class GenerationTimeout extends Error {
  override name = 'GenerationTimeout';
}

/** Aborts a generation because its appends failed for good; `cause` is the store's error. */
export class AppendFailed extends Error {
  override name = 'AppendFailed';
  constructor(override readonly cause: unknown) {
    super('append failed', { cause });
  }
}

/** Ends a generation early because a processor said so (stop sequence, output cap): a clean `done`. */
export class FinishEarly extends Error {
  override name = 'FinishEarly';
  constructor(readonly finishReason: string) {
    super(`finished by a processor (${finishReason})`);
  }
}

/** Aborts a generation because a processor threw: a bug in it, not the upstream's fault. */
export class ProcessorFailed extends Error {
  override name = 'ProcessorFailed';
  constructor(readonly processor: string, override readonly cause: unknown) {
    super(`processor ${processor} failed`, { cause });
  }
}
