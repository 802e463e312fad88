import { FencedError, SessionEndedError, SessionMissingError, type Limiter, type SessionStore } from '@relaycast/store';
import type { Logger } from '@relaycast/shared';

/**
 * How long a worker that heard a cancel has to end its session before the edge ends it itself. A healthy
 * worker needs a few ms (bench/cancel.mjs); a frozen one (SIGSTOP, a stuck event loop, a paused VM) still
 * holds its subscription, so hearing the cancel proves nothing about acting on it.
 */
export const CANCEL_GRACE_MS = 200;

interface CancelDeps {
  store: SessionStore;
  limiter: Limiter;
  log: Logger;
}

/**
 * Makes a recorded cancel land (issue 17 item 6). `watchers` is how many workers heard it (cancel-1.lua).
 * None: the session is queued, or its job waits to run again (handed back by a draining worker, stalled
 * after a crash or a Redis outage, between retries, behind busy workers), or a worker is between taking it
 * and subscribing; waiting for a worker could take seconds, or as long as no worker is up, so the edge ends
 * it before answering. Otherwise the worker ends it, and if it has not within CANCEL_GRACE_MS the edge does.
 */
export async function landCancel(d: CancelDeps, sessionId: string, keyId: string | undefined, watchers: number): Promise<void> {
  const end = () =>
    endCancelled(d.store, d.limiter, sessionId, keyId).catch((err: unknown) => {
      // The request is recorded either way: a worker ends the session when it runs it.
      d.log.warn({ sessionId, err: (err as Error).message }, 'could not end the cancelled session from the edge');
      return false;
    });
  if (watchers === 0) {
    await end();
    return;
  }
  setTimeout(() => void end(), CANCEL_GRACE_MS).unref();
}

/**
 * Ends the session with `cancelled` from here. It takes the session with a fresh attempt first
 * (begin-1.lua): that fences every earlier attempt, so a worker that holds it cannot append after the
 * `cancelled`, and a job that runs later finds the session ended and skips it. Returns whether this call
 * ended the session (then the key's running slot is freed here: the fenced worker leaves it alone).
 */
export async function endCancelled(store: SessionStore, limiter: Limiter, sessionId: string, keyId: string | undefined): Promise<boolean> {
  try {
    const b = await store.begin(sessionId);
    await store.append(sessionId, b.attempt, b.seq + 1, [{ type: 'cancelled', reason: 'client_request' }]);
  } catch (err) {
    // Ended meanwhile (the worker did it), gone, or taken by a newer attempt, which sees the cancel flag
    // when it begins: the session ends without us.
    if (err instanceof SessionEndedError || err instanceof SessionMissingError || err instanceof FencedError) return false;
    throw err;
  }
  if (keyId) await limiter.release(keyId, sessionId);
  return true;
}
