import type { Response } from 'express';
import { isSessionId } from '@relaycast/protocol';
import type { SessionMeta } from '@relaycast/store';
import type { AppDeps } from '../app.js';
import { keyOf } from './errors.js';
import type { Refusal } from './start.js';
import { ProtocolSubscriber, follow, type NativeEvent } from './stream.js';

/**
 * The session behind a compatible id (`resp_<id>`, …) when the caller's key belongs to its tenant. Another
 * tenant's session answers as unknown (404), as OpenAI answers for another organisation's response.
 */
export async function ownedSession(d: AppDeps, res: Response, raw: string, prefix: string): Promise<{ id: string; meta: SessionMeta } | undefined> {
  const id = raw.startsWith(prefix) ? raw.slice(prefix.length) : '';
  if (!isSessionId(id)) return undefined;
  const meta = await d.store.meta(id);
  if (!meta || meta.tenant !== keyOf(res).tenant) return undefined;
  return { id, meta };
}

/**
 * Cancels a session as `POST /v1/sessions/:id/cancel` does (routes/sessions.ts): the running worker is
 * told; a session no worker has taken yet is ended here. Returns whether it had already ended.
 */
export async function cancelSession(d: AppDeps, id: string, meta: SessionMeta): Promise<boolean | undefined> {
  const r = await d.store.requestCancel(id, 'client_request');
  if (!r) return undefined;
  if (r.ended) return true;
  if (r.status === 'queued' && r.attempt === 0) {
    try {
      await d.store.append(id, 0, r.seq + 1, [{ type: 'cancelled', reason: 'client_request' }]);
      if (meta.keyId) await d.limiter.release(meta.keyId, id);
    } catch {
      /* a worker took it; it honours cancelRequested and frees the slot */
    }
  }
  return false;
}

/** Every stored event of a session, in order, page by page (for answers built from the whole history). */
export async function* history(d: AppDeps, id: string): AsyncGenerator<NativeEvent> {
  for (let from = 1; ; ) {
    const page = await d.store.range(id, from, d.cfg.REPLAY_PAGE_SIZE);
    for (const e of page) yield e;
    if (page.length < d.cfg.REPLAY_PAGE_SIZE) return;
    from = page[page.length - 1]!.seq + 1;
  }
}

/**
 * Follows a session without writing (a JSON answer comes after) until its terminal event, the edge lets
 * go of it, or `timeoutMs` passes. Resolves how it ended; `onEvent` sees every event from the first.
 */
export function collect(d: AppDeps, req: Parameters<typeof follow>[1], res: Response, id: string, onEvent: (e: NativeEvent) => void, timeoutMs: number): Promise<'terminal' | 'ended' | 'failed' | 'timeout' | Refusal> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.gone();
      resolve('timeout');
    }, timeoutMs);
    const sub = new ProtocolSubscriber(res, d, false, (e) => onEvent(e), (how) => {
      clearTimeout(timer);
      resolve(how);
    });
    // The client left: nothing is waiting for the answer any more (follow() releases the subscription).
    res.once('close', () => {
      clearTimeout(timer);
      resolve('failed');
    });
    follow(d, req, res, id, sub).then((refused) => {
      if (refused) {
        clearTimeout(timer);
        resolve(refused);
      }
    }, (err: unknown) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
