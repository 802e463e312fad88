import { errors as undiciErrors } from 'undici';
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

/** Maps any failure of one upstream request onto the error a subscriber will see. */
export function toUpstreamError(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (err instanceof undiciErrors.HeadersTimeoutError) return new UpstreamError('upstream_timeout', 'upstream sent no response in time', true);
  if (err instanceof undiciErrors.BodyTimeoutError) return new UpstreamError('upstream_timeout', 'upstream went silent mid-stream (idle timeout)', false);
  if (err instanceof undiciErrors.ConnectTimeoutError) return new UpstreamError('upstream_unreachable', 'could not connect to upstream in time', true);
  const code = (err as { code?: string }).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'EAI_AGAIN') return new UpstreamError('upstream_unreachable', `upstream unreachable (${code})`, true);
  if (err instanceof undiciErrors.SocketError || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return new UpstreamError('upstream_network', 'upstream connection was cut mid-stream', true);
  return new UpstreamError('upstream_network', `upstream request failed: ${(err as Error).message ?? String(err)}`, true);
}

/**
 * Error messages reach every subscriber (and logs), and some providers quote the credential they were sent
 * in a 401 body: the route's API key never leaves in one.
 */
export function withoutSecret(e: UpstreamError, secret: string | undefined): UpstreamError {
  if (!secret || !e.message.includes(secret)) return e;
  return new UpstreamError(e.code, e.message.replaceAll(secret, '[redacted]'), e.retryable, e.retryAfterMs);
}
